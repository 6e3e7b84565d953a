/** `timebox grants list | show | revoke | credential | wait | extend`. */
import { Option, type Command } from 'commander';
import type { Grant } from '../../api/types.js';
import { grantStates } from '../../core/lifecycle.js';
import { durationArg } from '../args.js';
import { formatDuration } from '../duration.js';
import { totpArg, withTotp } from '../totp.js';
import { stillPending, waitWithProgress } from '../wait.js';
import { connect, idArg } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { finishGrant, printCredential, printGrant, revealCredential } from '../grant-output.js';
import { clean, note, print, printJson, relative, table, when } from '../output.js';

function expiresColumn(g: Grant): string {
  if (g.state === 'active' && g.expiresAt) return `${when(g.expiresAt)} (${relative(g.expiresAt)})`;
  return when(g.revokedAt ?? g.expiresAt);
}

export function registerGrants(program: Command): void {
  const grants = program.command('grants').description('access that was granted, is pending or has ended');

  grants
    .command('list')
    .description('grants, newest first (yours; admins and auditors see everyone\'s)')
    .addOption(new Option('--state <state>', 'only grants in this state').choices(grantStates))
    .option('--mine', 'only my own grants')
    .option('--all-pages', 'fetch every page, not just the newest 50')
    .option('--json', 'machine-readable output')
    .action(async (opts: { state?: Grant['state']; mine?: boolean; allPages?: boolean }, cmd: Command) => {
      const ctx = await connect(cmd);
      const args = { params: { tenant: await ctx.tenant() }, query: { state: opts.state, mine: opts.mine ? ('true' as const) : undefined } };
      const page = opts.allPages ? await ctx.api.pages('listGrants', args) : await ctx.api.call('listGrants', args);
      if (ctx.json) return printJson(page);
      table(
        ['ID', 'STATE', 'TARGET', 'ENTITLEMENTS', 'ACCOUNT', 'REQUESTED BY', 'ENDS'],
        page.items.map((g) => [g.id, g.state, g.targetName, g.entitlements.join(','), g.username, g.operatorEmail, expiresColumn(g)]),
        'No grants.',
      );
      if (page.nextCursor) note('timebox: more grants exist; add --all-pages to see them all');
    });

  grants
    .command('show')
    .description('one grant in detail')
    .argument('<id>', 'grant id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const grant = await ctx.api.call('getGrant', { params: { tenant: await ctx.tenant(), grantId: idArg(id, 'grant') } });
      if (ctx.json) return printJson(grant);
      printGrant(grant);
    });

  grants
    .command('revoke')
    .description('end a grant now; access is taken away and verified (exit code 1 if that fails)')
    .argument('<id>', 'grant id')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { reason: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const grant = await ctx.api.call('revokeGrant', { params: { tenant: await ctx.tenant(), grantId: idArg(id, 'grant') }, body: { reason: opts.reason } });
      if (grant.state === 'revoke_failed') process.exitCode = ExitCode.failure;
      if (ctx.json) return printJson(grant);
      if (grant.state === 'revoked') print(`Grant ${grant.id} is revoked; ${clean(grant.username)} no longer has ${grant.entitlements.map(clean).join(', ')} on ${clean(grant.targetName)}.`);
      else print(`Grant ${grant.id} is ${grant.state}.`);
      if (grant.state === 'revoking') print('The target did not confirm yet; Timebox keeps retrying until access is gone.');
      if (grant.lastError) note(`timebox: last error: ${clean(grant.lastError)}`);
    });

  grants
    .command('credential')
    .description('show the generated password of your active grant (only once), with how to connect')
    .argument('<id>', 'grant id')
    .option('--totp <code>', 'the 6-digit code from your authenticator app, when the policy asks for one to show it', totpArg)
    .option('--json', 'machine-readable output (includes the password)')
    .action(async (id: string, opts: { totp?: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const grantId = idArg(id, 'grant');
      const credential = await withTotp(opts.totp, (totp) => revealCredential(ctx, grantId, totp));
      if (ctx.json) return printJson(credential);
      printCredential(credential);
    });

  grants
    .command('wait')
    .description('wait until your request is approved (then show the password) or denied')
    .argument('<id>', 'grant id')
    .option('--totp <code>', 'a code from your authenticator app, when the policy asks for one to show the password', totpArg)
    .option('--out <file>', 'write the certificate or token to FILE (and a generated private key to FILE.key), mode 0600')
    .option('--json', 'machine-readable output (includes the password)')
    .action(async (id: string, opts: { totp?: string; out?: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      let grant = await ctx.api.call('getGrant', { params: { tenant: await ctx.tenant(), grantId: idArg(id, 'grant') } });
      if (stillPending(grant)) grant = await waitWithProgress(ctx, grant);
      await finishGrant(ctx, grant, { ...(opts.out !== undefined ? { out: opts.out } : {}), ...(opts.totp !== undefined ? { revealTotp: opts.totp } : {}) });
    });

  grants
    .command('extend')
    .description('ask for more time on your active grant (applied at once where the policy lets you, else approvers decide)')
    .argument('<id>', 'grant id')
    .requiredOption('--duration <duration>', 'how much longer, e.g. 30m, 1h', durationArg)
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { duration: number; reason: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const r = await ctx.api.call('extendGrant', {
        params: { tenant: await ctx.tenant(), grantId: idArg(id, 'grant') },
        body: { seconds: opts.duration, reason: opts.reason },
      });
      if (ctx.json) return printJson(r);
      if (r.applied) print(`Extended by ${formatDuration(opts.duration)}: grant ${r.grant.id} now ends ${when(r.grant.expiresAt)} (${relative(r.grant.expiresAt)}).`);
      else print(`Asked for ${formatDuration(opts.duration)} more (extension ${r.extensionId}); an approver decides (timebox approvals list). The grant still ends ${when(r.grant.expiresAt)} until then.`);
    });
}
