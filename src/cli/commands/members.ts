/** `timebox members add | list`. */
import type { Command } from 'commander';
import { apiPages, apiPost } from '../api-client.js';
import type { AddedMember, Member } from '../api-types.js';
import { csvArg } from '../args.js';
import { connect } from '../context.js';
import { clean, print, printJson, table } from '../output.js';

export function registerMembers(program: Command): void {
  const members = program.command('members').description('people in the tenant and their roles');

  members
    .command('add')
    .description('add a member (creating their account if new) or replace their roles')
    .requiredOption('--email <email>', 'their email')
    .requiredOption('--roles <roles>', 'comma-separated: owner, admin, approver, requester, auditor', csvArg)
    .option('--display-name <name>', 'name shown to others (new accounts only)')
    .option('--json', 'machine-readable output (includes a new account\'s initial password)')
    .action(async (opts: { email: string; roles: string[]; displayName?: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const tenant = await ctx.tenant();
      const m = await apiPost<AddedMember>(ctx.conn, await ctx.tenantPath('/members'), {
        email: opts.email,
        roles: opts.roles,
        ...(opts.displayName !== undefined ? { displayName: opts.displayName } : {}),
      });
      if (ctx.json) return printJson(m);
      print(`${clean(m.operator.email)} is a member of ${tenant} with roles: ${m.roles.join(', ')}`);
      if (m.initialPassword) {
        print(`New account; initial password: ${m.initialPassword}`);
        print('It is shown only this once; hand it over securely and ask them to change it.');
      }
    });

  members
    .command('list')
    .description('members of the tenant')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const { items } = await apiPages<Member>(ctx.conn, await ctx.tenantPath('/members'));
      if (ctx.json) return printJson(items);
      table(
        ['EMAIL', 'NAME', 'ROLES', 'DISABLED', 'ID'],
        items.map((m) => [m.operator.email, m.operator.displayName, m.roles.join(','), m.operator.disabled ? 'yes' : 'no', m.operator.id]),
        'No members.',
      );
    });
}
