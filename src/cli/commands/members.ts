/** `timebox members add | list | disable | enable | end-sessions`. */
import type { Command } from 'commander';
import type { Role } from '../../api/types.js';
import { csvArg } from '../args.js';
import { connect, idArg } from '../context.js';
import { clean, print, printJson, table, when } from '../output.js';

export function registerMembers(program: Command): void {
  const members = program.command('members').description('people in the tenant and their roles');

  members
    .command('add')
    .description("invite someone to the tenant (they choose their own password), or replace a member's roles")
    .requiredOption('--email <email>', 'their email')
    .requiredOption('--roles <roles>', 'comma-separated: owner, admin, approver, requester, auditor', csvArg)
    .option('--display-name <name>', 'suggested name for a new account')
    .option('--json', 'machine-readable output (includes the invitation link when it is not e-mailed)')
    .action(async (opts: { email: string; roles: string[]; displayName?: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const tenant = await ctx.tenant();
      const m = await ctx.api.call('addMember', {
        params: { tenant },
        body: {
          email: opts.email,
          // Roles as typed: the server refuses one it does not know, naming it.
          roles: opts.roles as Role[],
          ...(opts.displayName !== undefined ? { displayName: opts.displayName } : {}),
        },
      });
      if (ctx.json) return printJson(m);
      if ('operator' in m) {
        print(`${clean(m.operator.email)} is a member of ${tenant} with roles: ${m.roles.join(', ')}`);
        return;
      }
      print(`Invited ${clean(m.invitation.email)} to ${tenant} as ${m.invitation.roles.join(', ')}; the link works once, until ${when(m.invitation.expiresAt)}.`);
      if (m.link) {
        print(`Invitation link (shown only this once; no SMTP settings, so pass it on yourself): ${clean(m.link)}`);
      } else {
        print('The link was e-mailed to them.');
      }
    });

  const byId = (id: string) => idArg(id, 'operator');
  members
    .command('disable <operator-id>')
    .description('offboard a member here: end their sessions and API tokens, cancel their requests, revoke their grants, re-route approvals')
    .requiredOption('--reason <text>', 'why (audited)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { reason: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const r = await ctx.api.call('disableMember', { params: { tenant: await ctx.tenant(), operatorId: byId(id) }, body: { reason: opts.reason } });
      if (ctx.json) return printJson(r);
      print(`Disabled in ${await ctx.tenant()}: ${r.sessionsAndTokensEnded} session(s)/token(s) ended, ${r.requestsCancelled} request(s) cancelled, ${r.grantsRevoked} grant(s) being revoked, ${r.approvalsRerouted} approval(s) re-routed, ${r.approvalsFlagged} flagged.`);
    });

  members
    .command('enable <operator-id>')
    .description('let a disabled member sign in here again (no grant comes back)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      await ctx.api.call('enableMember', { params: { tenant: await ctx.tenant(), operatorId: byId(id) } });
      if (ctx.json) return printJson({ enabled: true });
      print('Enabled: they can sign in again; their grants stay ended.');
    });

  members
    .command('end-sessions <operator-id>')
    .description("end a member's sessions and revoke their API tokens, without disabling them")
    .requiredOption('--reason <text>', 'why (audited)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { reason: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const r = await ctx.api.call('endMemberSessions', { params: { tenant: await ctx.tenant(), operatorId: byId(id) }, body: { reason: opts.reason } });
      if (ctx.json) return printJson(r);
      print(`${r.sessionsAndTokensEnded} session(s) and API token(s) ended.`);
    });

  members
    .command('list')
    .description('members of the tenant')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const { items } = await ctx.api.pages('listMembers', { params: { tenant: await ctx.tenant() } });
      if (ctx.json) return printJson(items);
      table(
        ['EMAIL', 'NAME', 'ROLES', 'DISABLED', 'ID'],
        items.map((m) => [m.operator.email, m.operator.displayName, m.roles.join(','), m.operator.disabled ? 'everywhere' : m.disabledHere ? 'here' : 'no', m.operator.id]),
        'No members.',
      );
    });
}
