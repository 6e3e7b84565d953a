/** `timebox members add | role | remove | list | invitations | uninvite | disable | enable | end-sessions`. */
import type { Command } from 'commander';
import type { Member, PendingInvitation, Role } from '../../api/types.js';
import { csvArg } from '../args.js';
import { connect, type Ctx } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { clean, print, printJson, table, when } from '../output.js';

/** A member by email (any case) or operator id; not a member is "not found" (exit 4). */
async function findMember(ctx: Ctx, who: string): Promise<Member> {
  const { items } = await ctx.api.pages('listMembers', { params: { tenant: await ctx.tenant() } });
  const wanted = who.trim().toLowerCase();
  const found = items.find((m) => m.operator.id === wanted || m.operator.email.toLowerCase() === wanted);
  if (found) return found;
  const tenant = await ctx.tenant();
  // Invited but not joined: say so, and how to take the invitation back.
  const invited = await ctx.api.call('listInvitations', { params: { tenant } }).then((r) => invitationOf(r.items, who), () => undefined);
  if (invited) throw new CliError(`${who} is invited to tenant ${tenant} but has not joined yet; to take the invitation back: timebox members uninvite ${who}`, ExitCode.notFound);
  throw new CliError(`no member ${JSON.stringify(who)} in tenant ${tenant}; see timebox members list`, ExitCode.notFound);
}

/** A pending invitation by its email (any case) or its id. */
const invitationOf = (items: PendingInvitation[], which: string) => {
  const wanted = which.trim().toLowerCase();
  return items.find((i) => i.id === wanted || i.email.toLowerCase() === wanted);
};

const invitationTable = (items: PendingInvitation[], empty = '') =>
  table(['EMAIL', 'ROLES', 'LINK WORKS UNTIL', 'ID'], items.map((i) => [i.email, i.roles.join(','), when(i.expiresAt), i.id]), empty);

export function registerMembers(program: Command): void {
  const members = program.command('members').description('people in the tenant and their roles');

  members
    .command('add')
    .description("invite someone to the tenant: prints an invitation link (they choose their own password) unless it is e-mailed; for a member, replaces their roles")
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
        print(`${clean(m.operator.email)} is a member of ${tenant} with roles: ${m.roles.join(', ')}${stillDisabled(m, tenant)}`);
        return;
      }
      print(`Invited ${clean(m.invitation.email)} to ${tenant} as ${m.invitation.roles.join(', ')}; the link works once, until ${when(m.invitation.expiresAt)}.`);
      if (m.link) {
        print(`Invitation link (shown only this once; no SMTP settings, so pass it on yourself): ${clean(m.link)}`);
      } else {
        print('The link was e-mailed to them.');
      }
    });

  members
    .command('role')
    .description("change a member's roles (replaces them)")
    .argument('<member>', 'their email or operator id')
    .requiredOption('--roles <roles>', 'comma-separated: owner, admin, approver, requester, auditor', csvArg)
    .option('--json', 'machine-readable output')
    .action(async (who: string, opts: { roles: string[] }, cmd: Command) => {
      const ctx = await connect(cmd);
      const member = await findMember(ctx, who);
      // Roles as typed: the server refuses one it does not know, naming it.
      const m = await ctx.api.call('addMember', { params: { tenant: await ctx.tenant() }, body: { email: member.operator.email, roles: opts.roles as Role[] } });
      if (ctx.json) return printJson(m);
      const tenant = await ctx.tenant();
      print(`${clean(member.operator.email)} now has roles in ${tenant}: ${'roles' in m ? m.roles.join(', ') : opts.roles.join(', ')}${'operator' in m ? stillDisabled(m, tenant) : ''}`);
    });

  members
    .command('remove')
    .description('take someone out of the tenant: their requests there are cancelled and their grants revoked (their account stays)')
    .argument('<member>', 'their email or operator id')
    .option('--json', 'machine-readable output')
    .action(async (who: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const member = await findMember(ctx, who);
      await ctx.api.call('removeMember', { params: { tenant: await ctx.tenant(), operatorId: member.operator.id } });
      if (ctx.json) return printJson({ removed: true, operator: member.operator });
      print(`${clean(member.operator.email)} is no longer a member of ${await ctx.tenant()}.`);
    });

  members
    .command('disable')
    .argument('<member>', 'their email or operator id')
    .description('offboard a member here: end their sessions and API tokens, cancel their requests, revoke their grants, re-route approvals')
    .requiredOption('--reason <text>', 'why (audited)')
    .option('--json', 'machine-readable output')
    .action(async (who: string, opts: { reason: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const member = await findMember(ctx, who);
      const r = await ctx.api.call('disableMember', { params: { tenant: await ctx.tenant(), operatorId: member.operator.id }, body: { reason: opts.reason } });
      if (ctx.json) return printJson(r);
      print(`${clean(member.operator.email)} disabled in ${await ctx.tenant()}: ${r.sessionsAndTokensEnded} session(s)/token(s) ended, ${r.requestsCancelled} request(s) cancelled, ${r.grantsRevoked} grant(s) being revoked, ${r.approvalsRerouted} approval(s) re-routed, ${r.approvalsFlagged} flagged.`);
    });

  members
    .command('enable')
    .argument('<member>', 'their email or operator id')
    .description('let a disabled member sign in here again (no grant comes back)')
    .option('--json', 'machine-readable output')
    .action(async (who: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const member = await findMember(ctx, who);
      await ctx.api.call('enableMember', { params: { tenant: await ctx.tenant(), operatorId: member.operator.id } });
      if (ctx.json) return printJson({ enabled: true, operator: member.operator });
      print(`${clean(member.operator.email)} enabled: they can sign in again; their grants stay ended.`);
    });

  members
    .command('end-sessions')
    .argument('<member>', 'their email or operator id')
    .description("end a member's sessions and revoke their API tokens, without disabling them")
    .requiredOption('--reason <text>', 'why (audited)')
    .option('--json', 'machine-readable output')
    .action(async (who: string, opts: { reason: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const member = await findMember(ctx, who);
      const r = await ctx.api.call('endMemberSessions', { params: { tenant: await ctx.tenant(), operatorId: member.operator.id }, body: { reason: opts.reason } });
      if (ctx.json) return printJson(r);
      print(`${clean(member.operator.email)}: ${r.sessionsAndTokensEnded} session(s) and API token(s) ended.`);
    });

  members
    .command('list')
    .description('members of the tenant, then the invitations still waiting to be accepted')
    .option('--json', 'machine-readable output (members only; invitations: timebox members invitations --json)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const tenant = await ctx.tenant();
      const { items } = await ctx.api.pages('listMembers', { params: { tenant } });
      if (ctx.json) return printJson(items);
      table(
        ['EMAIL', 'NAME', 'ROLES', 'DISABLED', 'ID'],
        items.map((m) => [m.operator.email, m.operator.displayName, m.roles.join(','), m.operator.disabled ? 'everywhere' : m.disabledHere ? 'here' : 'no', m.operator.id]),
        'No members.',
      );
      const pending = (await ctx.api.call('listInvitations', { params: { tenant } })).items;
      if (pending.length === 0) return;
      print('');
      print('Invited, not joined yet:');
      invitationTable(pending);
    });

  members
    .command('invitations')
    .description('invitations to the tenant still waiting to be accepted')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const { items } = await ctx.api.call('listInvitations', { params: { tenant: await ctx.tenant() } });
      if (ctx.json) return printJson(items);
      invitationTable(items, 'No invitations waiting.');
    });

  members
    .command('uninvite')
    .description("withdraw a pending invitation: its link stops working at once")
    .argument('<invitation>', 'the invited email or the invitation id')
    .option('--json', 'machine-readable output')
    .action(async (which: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const tenant = await ctx.tenant();
      const { items } = await ctx.api.call('listInvitations', { params: { tenant } });
      const found = invitationOf(items, which);
      if (!found) throw new CliError(`no pending invitation ${JSON.stringify(which)} in tenant ${tenant}; see timebox members invitations`, ExitCode.notFound);
      await ctx.api.call('withdrawInvitation', { params: { tenant, invitationId: found.id } });
      if (ctx.json) return printJson({ withdrawn: true, invitation: found });
      print(`Withdrew the invitation of ${clean(found.email)} to ${tenant}: its link no longer works.`);
    });
}

/** New roles do not undo an offboarding: said after the roles, with the way back. */
function stillDisabled(m: { operator: { email: string }; disabledHere: boolean }, tenant: string): string {
  return m.disabledHere ? ` (still disabled in ${tenant}: they cannot sign in here until \`timebox members enable ${clean(m.operator.email)}\`)` : '';
}
