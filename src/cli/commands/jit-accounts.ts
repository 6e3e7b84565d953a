/** `timebox jit-accounts list | enable | rotate | delete`. */
import type { Command } from 'commander';
import { collect, durationArg, isoArg } from '../args.js';
import { connect, idArg } from '../context.js';
import { endTime, finishGrant, printConnect } from '../grant-output.js';
import { clean, note, print, printJson, table, when } from '../output.js';
import { totpArg, withTotp } from '../totp.js';
import { stillPending, waitWithProgress } from '../wait.js';
import { bindsExistingUser } from '../../core/target-kinds.js';

interface EnableOptions {
  reason: string;
  duration?: number;
  entitlement?: string[];
  ticket?: string;
  start?: string;
  totp?: string;
  emergency?: boolean;
  wait?: boolean;
}

export function registerJitAccounts(program: Command): void {
  const accounts = program.command('jit-accounts').description('your personal accounts on targets, enabled only while a grant is active');

  accounts
    .command('list')
    .description('JIT accounts (yours; admins and auditors see everyone\'s)')
    .option('--mine', 'only my own accounts')
    .option('--json', 'machine-readable output')
    .action(async (opts: { mine?: boolean }, cmd: Command) => {
      const ctx = await connect(cmd);
      const { items } = await ctx.api.pages('listJitAccounts', { params: { tenant: await ctx.tenant() }, query: { mine: opts.mine ? 'true' : undefined } });
      if (ctx.json) return printJson(items);
      table(
        ['ID', 'USERNAME', 'STATUS', 'TARGET', 'OWNER', 'LAST GRANT', 'UPDATED', 'CONFIRMED'],
        items.map((a) => [a.id, a.username, a.status, a.targetName, a.operatorEmail, a.lastGrantId, when(a.updatedAt), bindsExistingUser(a.targetKind) ? (a.confirmedAt ? when(a.confirmedAt) : 'no') : '']),
        'No JIT accounts yet; one is created with your first request on a target.',
      );
    });

  accounts
    .command('enable')
    .description('enable one of your accounts again, with a new reason and duration; prints the password once')
    .argument('<id>', 'JIT account id')
    .requiredOption('--reason <text>', 'why you need it (kept in the audit log)')
    .option('--duration <duration>', 'how long, e.g. 1h (default: the policy default)', durationArg)
    .option('--entitlement <name>', 'entitlement to get (repeatable; default: those of the last grant)', collect)
    // What a request can say, an enabling can too: it is a request for the same account.
    .option('--ticket <id>', 'ticket or change reference')
    .option('--start <iso>', 'start later, at this ISO 8601 time (e.g. 2026-03-01T09:00:00Z)', isoArg)
    .option('--totp <code>', 'the 6-digit code from your authenticator app, when the policy asks for one (asked for when needed, if there is a terminal)', totpArg)
    .option('--emergency', 'break-glass: access at once without approval, where the policy allows it; reviewed afterwards')
    .option('--wait', 'stay until the request is approved or denied, then show the password')
    .option('--json', 'machine-readable output (includes the password)')
    .action(async (id: string, opts: EnableOptions, cmd: Command) => {
      const ctx = await connect(cmd);
      const accountId = idArg(id, 'JIT account');
      const tenant = await ctx.tenant();
      let grant = await withTotp(opts.totp, (totp) =>
        ctx.api.call('enableJitAccount', {
          params: { tenant, accountId },
          body: {
            reason: opts.reason,
            ...(opts.duration !== undefined ? { durationSeconds: opts.duration } : {}),
            ...(opts.entitlement ? { entitlements: opts.entitlement } : {}),
            ...(opts.ticket !== undefined ? { ticket: opts.ticket } : {}),
            ...(opts.start !== undefined ? { startAt: opts.start } : {}),
            ...(opts.emergency ? { emergency: true } : {}),
            ...(totp !== undefined ? { totp } : {}),
          },
        }),
      );
      if (grant.emergency && !ctx.json) note('timebox: break-glass: no approval was asked for; approvers are told and the grant is reviewed afterwards.');
      if (opts.wait && stillPending(grant)) grant = await waitWithProgress(ctx, grant);
      await finishGrant(ctx, grant);
    });

  accounts
    .command('rotate')
    .description('set a fresh password on your enabled account; the old one stops working at once; prints it once')
    .argument('<id>', 'JIT account id')
    .option('--totp <code>', 'a fresh authenticator code, when the policy asks for one to see a password')
    .option('--json', 'machine-readable output (includes the password)')
    .action(async (id: string, opts: { totp?: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const rotated = await ctx.api.call('rotateJitAccount', {
        params: { tenant: await ctx.tenant(), accountId: idArg(id, 'JIT account') },
        body: opts.totp ? { totp: opts.totp } : {},
      });
      if (ctx.json) return printJson(rotated);
      print(`  username: ${clean(rotated.username)}`);
      print(`  password: ${rotated.password}`);
      if (rotated.connect) {
        printConnect(rotated.connect);
        print(`  until:    ${endTime(rotated.connect.endsAt)}`);
      }
      print('The previous password no longer works. This one is shown only this once; copy it now.');
    });

  accounts
    .command('confirm')
    .description("administrators: confirm that a person's existing user (linux-agent-users, active-directory-groups) is theirs; the gateway logs in as it, and grants reach an AD user who does not sign in as the person's address, only then")
    .argument('<id>', 'JIT account id (the binding)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const r = await ctx.api.call('confirmBinding', { params: { tenant: await ctx.tenant(), accountId: idArg(id, 'JIT account') } });
      if (ctx.json) return printJson(r);
      print(`Confirmed: ${id} is its owner's own user (${when(r.confirmedAt)}).`);
    });

  accounts
    .command('delete')
    .description('delete an account no grant holds: removed from its target; your next request creates a fresh one')
    .argument('<id>', 'JIT account id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      await ctx.api.call('deleteJitAccount', { params: { tenant: await ctx.tenant(), accountId: idArg(id, 'JIT account') } });
      if (ctx.json) return printJson({ deleted: true, id });
      print(`Deleted JIT account ${id}.`);
    });
}
