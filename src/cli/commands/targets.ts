/** `timebox targets add | update | check | list | delete | entitlements`. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CheckReport } from '../../api/types.js';
import { TARGET_KINDS } from '../../core/target-kinds.js';
import { connect, resolveTarget } from '../context.js';
import { ApiError } from '../api-client.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { note, print, printJson, table, when, clean } from '../output.js';

async function configFrom(opts: { config?: string; configFile?: string }): Promise<Record<string, unknown>> {
  if ((opts.config === undefined) === (opts.configFile === undefined)) {
    throw new CliError('give the target configuration with exactly one of --config JSON or --config-file FILE', ExitCode.usage);
  }
  let text = opts.config;
  const source = opts.configFile ?? '--config';
  if (opts.configFile !== undefined) {
    try {
      text = await readFile(opts.configFile, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${opts.configFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, ExitCode.usage);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch (err) {
    throw new CliError(`${source} is not valid JSON: ${(err as Error).message}`, ExitCode.usage);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`${source} must be a JSON object, e.g. {"host": "db.internal", ...}`, ExitCode.usage);
  }
  return parsed as Record<string, unknown>;
}

export function printCheck(report: CheckReport): void {
  for (const item of report.items) print(`  ${item.ok ? 'ok  ' : 'FAIL'}  ${clean(item.name)}: ${clean(item.message)}`);
  print(report.ok ? 'Check passed.' : 'Check found problems.');
}

export function registerTargets(program: Command): void {
  const targets = program.command('targets').description('systems Timebox grants access on');

  targets
    .command('add')
    .description('connect a target; its configuration is validated and tested before it is stored (encrypted)')
    .requiredOption('--name <name>', 'a name people will recognise, e.g. "orders-db"')
    .requiredOption(
      '--kind <kind>',
      `connector kind: ${TARGET_KINDS.join(', ')} (the settings of each: GET /api/v1/target-kinds)`,
    )
    .option('--config <json>', 'connector configuration as a JSON object')
    .option('--config-file <file>', 'read the connector configuration (JSON) from a file')
    .option('--save-unchecked', 'save it even though its connection test fails (it is listed broken until a test passes)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; kind: string; config?: string; configFile?: string; saveUnchecked?: boolean; json?: boolean }, cmd: Command) => {
      const config = await configFrom(opts);
      const ctx = await connect(cmd);
      const r = await ctx.api
        .call('createTarget', {
          params: { tenant: await ctx.tenant() },
          body: { name: opts.name, kind: opts.kind, config, ...(opts.saveUnchecked ? { saveUnchecked: true } : {}) },
        })
        .catch(inCliWords);
      if (ctx.json) return printJson(r);
      print(`Added target ${clean(r.target.name)} (${r.target.kind}), id ${r.target.id}`);
      printCheck(r.check);
      if (!r.check.ok) note(`timebox: warning: saved unchecked, the target is listed broken; fix it, then run: timebox targets check ${r.target.id}`);
    });

  targets
    .command('update')
    .description('rename a target or change settings; keys left out of the config keep their value; new settings are tested first')
    .argument('<target>', 'target id or name')
    .option('--name <name>', 'a new name')
    .option('--config <json>', 'settings to change, as a JSON object (e.g. a rotated service password: prefer --config-file)')
    .option('--config-file <file>', 'read the settings to change (JSON) from a file')
    .option('--save-unchecked', 'save the settings even though their connection test fails (refused anyway while grants are live)')
    .option('--json', 'machine-readable output')
    .action(async (idOrName: string, opts: { name?: string; config?: string; configFile?: string; saveUnchecked?: boolean }, cmd: Command) => {
      const config = opts.config === undefined && opts.configFile === undefined ? undefined : await configFrom(opts);
      if (!config && opts.name === undefined) throw new CliError('nothing to change: give --name, --config or --config-file', ExitCode.usage);
      const ctx = await connect(cmd);
      const target = await resolveTarget(ctx, idOrName);
      const r = await ctx.api.call('updateTarget', {
        params: { tenant: await ctx.tenant(), targetId: target.id },
        body: {
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(config ? { config } : {}),
          ...(opts.saveUnchecked ? { saveUnchecked: true } : {}),
        },
      }).catch(inCliWords);
      if (ctx.json) return printJson(r);
      print(`Updated target ${clean(r.target.name)} (${r.target.kind}).`);
      if (r.check) printCheck(r.check);
    });

  targets
    .command('check')
    .description('test the connection to a target (exit code 1 when the check finds problems)')
    .argument('<target>', 'target id or name')
    .option('--json', 'machine-readable output')
    .action(async (idOrName: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const target = await resolveTarget(ctx, idOrName);
      const report = await ctx.api.call('checkTarget', { params: { tenant: await ctx.tenant(), targetId: target.id } });
      if (ctx.json) printJson(report);
      else {
        print(`Target ${clean(target.name)} (${target.kind}):`);
        printCheck(report);
      }
      if (!report.ok) process.exitCode = ExitCode.failure;
    });

  targets
    .command('list')
    .description('targets of the tenant')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const { items } = await ctx.api.pages('listTargets', { params: { tenant: await ctx.tenant() } });
      if (ctx.json) return printJson(items);
      table(
        ['ID', 'NAME', 'KIND', 'STATUS', 'CREATED'],
        // broken: the last connection test failed (saved anyway, or failing since).
        items.map((t) => [t.id, t.name, t.kind, t.broken ? 'broken (timebox targets check)' : 'ok', when(t.createdAt)]),
        'No targets yet; add one with: timebox targets add --name N --kind postgres --config-file F',
      );
    });

  targets
    .command('delete')
    .description('delete a target; refused while any of its grants is not over or a JIT account is left on it (past grants and the audit trail keep its name)')
    .argument('<target>', 'target id or name')
    .option('--json', 'machine-readable output')
    .action(async (idOrName: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const target = await resolveTarget(ctx, idOrName);
      await ctx.api.call('deleteTarget', { params: { tenant: await ctx.tenant(), targetId: target.id } });
      if (ctx.json) return printJson({ deleted: true, target });
      print(`Deleted target ${clean(target.name)} (${target.kind}); past grants and the audit log keep its name.`);
    });

  targets
    .command('entitlements')
    .description('what can be granted on a target, read live from the target')
    .argument('<target>', 'target id or name')
    .option('--search <text>', 'only entitlements whose name contains this')
    .option('--json', 'machine-readable output')
    .action(async (idOrName: string, opts: { search?: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const target = await resolveTarget(ctx, idOrName);
      const { items } = await ctx.api.pages('listEntitlements', {
        params: { tenant: await ctx.tenant(), targetId: target.id },
        query: { search: opts.search },
      });
      if (ctx.json) return printJson(items);
      table(
        ['ENTITLEMENT', 'NAME', 'DESCRIPTION'],
        items.map((e) => [e.externalId, e.displayName, e.description]),
        opts.search ? `No entitlements matching ${JSON.stringify(opts.search)}.` : 'The target reports no entitlements.',
      );
    });
}

/** A failed connection test, said with this command's flag (the API's words name its field). */
function inCliWords(err: unknown): never {
  if (!(err instanceof ApiError) || err.code !== 'target_check_failed') throw err;
  const check = (err.details as { check?: CheckReport } | undefined)?.check;
  if (!check?.items) throw err;
  const failed = check.items.filter((i) => !i.ok).map((i) => `${clean(i.name)}: ${clean(i.message)}`).join('; ');
  throw new CliError(`not saved: the connection test failed (${failed}); fix the settings, or add --save-unchecked to save them anyway (the target is listed broken until a test passes)`, err.exitCode);
}
