/** `timebox jit-settings show | set` and `timebox reconcile`. */
import type { Command } from 'commander';
import type { Group, JitSettings } from '../../api/types.js';
import { collect, isUuid } from '../args.js';
import { connect, resolveTarget, type Ctx } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { clean, keyValues, note, print, printJson, when } from '../output.js';

async function groupsByName(ctx: Ctx): Promise<Group[]> {
  return (await ctx.api.call('listGroups', { params: { tenant: await ctx.tenant() } })).items;
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
      await printSettings(ctx, target.name, await ctx.api.call('getJitSettings', { params: { tenant: await ctx.tenant(), targetId: target.id } }));
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
        const params = { tenant: await ctx.tenant(), targetId: target.id };
        const current = await ctx.api.call('getJitSettings', { params });
        const body = {
          enabled: opts.enable ? true : opts.disable ? false : current.configured ? current.enabled : true,
          allowedGroups: opts.group ?? current.allowedGroups,
          creatorGroupIds:
            opts.creatorGroups === false ? [] : opts.creatorGroup ? await resolveGroups(ctx, opts.creatorGroup) : current.creatorGroupIds,
        };
        const saved = await ctx.api.call('setJitSettings', { params, body });
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
      const r = await ctx.api.call('reconcile', { params: { tenant: await ctx.tenant() } });
      if (r.failed > 0) process.exitCode = ExitCode.failure;
      if (ctx.json) return printJson(r);
      print(`Checked ${r.checked} JIT account(s): ${r.drifted} drifted, ${r.repaired} repaired, ${r.failed} failed, ${r.skipped} skipped.`);
      if (r.drifted) note('timebox: what was found and repaired is in the audit log (drift.detected, drift.repaired)');
      if (r.failed) note('timebox: some accounts could not be checked or repaired; see the alerts and the server log');
    });
}
