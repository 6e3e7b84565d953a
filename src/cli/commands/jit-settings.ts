/** `timebox jit-settings show | set` and `timebox reconcile`. */
import type { Command } from 'commander';
import { apiGet, apiPost, type Conn } from '../api-client.js';
import { collect, isUuid } from '../args.js';
import { connect, resolveTarget, type Ctx } from '../context.js';
import { CliError, ExitCode, exitCodeForStatus } from '../exit-codes.js';
import { clean, keyValues, note, print, printJson, when } from '../output.js';

interface JitSettings {
  targetId: string;
  configured: boolean;
  enabled: boolean;
  allowedGroups: string[];
  creatorGroupIds: string[];
  updatedAt: string | null;
  updatedBy: string | null;
}
interface OperatorGroup {
  id: string;
  name: string;
}
interface ReconcileCounts {
  checked: number;
  drifted: number;
  repaired: number;
  failed: number;
  skipped: number;
}

/** PUT with the server's error shape; api-client has no PUT of its own. */
async function apiPut<T>(conn: Conn, path: string, body: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json', 'user-agent': 'timebox-cli' };
  if (conn.token) headers.authorization = `Bearer ${conn.token}`;
  let res: Response;
  try {
    res = await fetch(new URL(conn.server + path), { method: 'PUT', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
  } catch (err) {
    const e = err as Error & { cause?: { message?: string } };
    throw new CliError(`cannot reach the server at ${conn.server}: ${e.cause?.message ?? e.message}`, ExitCode.unreachable);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    throw new CliError(`the server at ${conn.server} did not answer with JSON; is it a Timebox server?`);
  }
  if (!res.ok) {
    const message = (parsed as { error?: { message?: unknown } } | undefined)?.error?.message;
    throw new CliError(typeof message === 'string' ? message : `the server answered HTTP ${res.status}`, exitCodeForStatus(res.status));
  }
  return parsed as T;
}

async function groupsByName(ctx: Ctx): Promise<OperatorGroup[]> {
  return (await apiGet<{ items: OperatorGroup[] }>(ctx.conn, await ctx.tenantPath('/groups'))).items;
}

/** Operator groups by id or name. */
async function resolveGroups(ctx: Ctx, given: string[]): Promise<string[]> {
  // Ids are looked up too: an unknown group is "not found" (exit 4) however it was named.
  const groups = await groupsByName(ctx);
  return given.map((g) => {
    const found = isUuid(g)
      ? groups.find((x) => x.id === g.toLowerCase())
      : (groups.find((x) => x.name === g) ?? groups.find((x) => x.name.toLowerCase() === g.toLowerCase()));
    if (!found) {
      const known = groups.length ? `; groups: ${groups.map((x) => x.name).join(', ')}` : '; this tenant has no operator groups yet';
      throw new CliError(`no operator group ${isUuid(g) ? 'with id' : 'named'} ${JSON.stringify(g)}${known}`, ExitCode.notFound);
    }
    return found.id;
  });
}

async function printSettings(ctx: Ctx, targetName: string, s: JitSettings): Promise<void> {
  if (ctx.json) return printJson(s);
  if (!s.configured) {
    print(`Target ${clean(targetName)} has no JIT settings: anyone a policy allows may request any of its groups.`);
    return;
  }
  const names = new Map((s.creatorGroupIds.length ? await groupsByName(ctx) : []).map((g) => [g.id, g.name]));
  keyValues([
    ['Target', targetName],
    ['JIT accounts', s.enabled ? 'enabled' : 'disabled'],
    ['Updated', when(s.updatedAt)],
  ]);
  print('Allowed privileged groups:');
  for (const g of s.allowedGroups) print(`  ${clean(g)}`);
  if (!s.allowedGroups.length) print('  (none)');
  print('May create JIT accounts: owners, admins and approvers, and members of:');
  for (const id of s.creatorGroupIds) print(`  ${clean(names.get(id) ?? id)}`);
  if (!s.creatorGroupIds.length) print('  (no operator groups)');
}

export function registerJitSettings(program: Command): void {
  const settings = program.command('jit-settings').description('who may create JIT accounts on a target, and which groups they may get');

  settings
    .command('show')
    .description("a target's JIT account settings")
    .argument('<target>', 'target id or name')
    .option('--json', 'machine-readable output')
    .action(async (idOrName: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const target = await resolveTarget(ctx, idOrName);
      await printSettings(ctx, target.name, await apiGet<JitSettings>(ctx.conn, await ctx.tenantPath(`/targets/${target.id}/jit-settings`)));
    });

  settings
    .command('set')
    .description('change the settings; what you leave out stays as it is (groups are group DNs from `timebox targets entitlements`)')
    .argument('<target>', 'target id or name')
    .option('--enable', 'allow JIT accounts on this target')
    .option('--disable', 'refuse new JIT account requests on this target (live grants run to their end)')
    .option('--group <dn>', 'allowed privileged group (repeatable; replaces the list)', collect)
    .option('--creator-group <name-or-id>', 'operator group whose members may create JIT accounts (repeatable; replaces the list)', collect)
    .option('--no-creator-groups', 'only owners, admins and approvers may create JIT accounts')
    .option('--json', 'machine-readable output')
    .action(
      async (
        idOrName: string,
        opts: { enable?: boolean; disable?: boolean; group?: string[]; creatorGroup?: string[]; creatorGroups?: boolean },
        cmd: Command,
      ) => {
        if (opts.enable && opts.disable) throw new CliError('give --enable or --disable, not both', ExitCode.usage);
        if (opts.creatorGroup && opts.creatorGroups === false) throw new CliError('give --creator-group or --no-creator-groups, not both', ExitCode.usage);
        const ctx = await connect(cmd);
        const target = await resolveTarget(ctx, idOrName);
        const path = await ctx.tenantPath(`/targets/${target.id}/jit-settings`);
        const current = await apiGet<JitSettings>(ctx.conn, path);
        const body = {
          enabled: opts.enable ? true : opts.disable ? false : current.configured ? current.enabled : true,
          allowedGroups: opts.group ?? current.allowedGroups,
          creatorGroupIds:
            opts.creatorGroups === false ? [] : opts.creatorGroup ? await resolveGroups(ctx, opts.creatorGroup) : current.creatorGroupIds,
        };
        const saved = await apiPut<JitSettings>(ctx.conn, path, body);
        if (!ctx.json) print(`Saved the JIT settings of ${clean(target.name)}.`);
        await printSettings(ctx, target.name, saved);
      },
    );
}

export function registerReconcile(program: Command): void {
  program
    .command('reconcile')
    .description("compare this tenant's JIT accounts with their targets now and repair drift (exit code 1 if some could not be repaired)")
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const r = await apiPost<ReconcileCounts>(ctx.conn, await ctx.tenantPath('/reconcile'));
      if (r.failed > 0) process.exitCode = ExitCode.failure;
      if (ctx.json) return printJson(r);
      print(`Checked ${r.checked} JIT account(s): ${r.drifted} drifted, ${r.repaired} repaired, ${r.failed} failed, ${r.skipped} skipped.`);
      if (r.drifted) note('timebox: what was found and repaired is in the audit log (drift.detected, drift.repaired)');
      if (r.failed) note('timebox: some accounts could not be checked or repaired; see the alerts and the server log');
    });
}
