/**
 * `timebox request`: ask for access; when granted at once (or, with --wait, once approved), show
 * the password, certificate or token (once).
 */
import type { Command } from 'commander';
import { collect, durationArg, isoArg } from '../args.js';
import { connect, resolveTarget } from '../context.js';
import { finishGrant } from '../grant-output.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { readSmallTextFile } from '../small-text-file.js';
import { note } from '../output.js';
import { totpArg, withTotp } from '../totp.js';
import { stillPending, waitWithProgress } from '../wait.js';

interface RequestOptions {
  target: string;
  entitlement: string[];
  duration?: number;
  reason: string;
  accountName?: string;
  ticket?: string;
  start?: string;
  publicKeyFile?: string;
  out?: string;
  totp?: string;
  emergency?: boolean;
  wait?: boolean;
}

/** The public key or CSR to send: small, one text file (never a private key: the server refuses those too). */
async function readPublicKey(file: string): Promise<string> {
  const text = await readSmallTextFile(file, 16 * 1024, 'a public key or CSR');
  if (/PRIVATE KEY/.test(text)) throw new CliError(`${file} holds a PRIVATE key; give the public key (.pub) or a CSR`, ExitCode.usage);
  return text.trim();
}

export function registerRequest(program: Command): void {
  program
    .command('request')
    .description('ask for entitlements on a target for a while; prints the password, certificate or token once when access is granted')
    .requiredOption('--target <target>', 'target id or name')
    .requiredOption('--entitlement <name>', 'entitlement to get (repeatable, or comma-separated)', collect)
    .option('--duration <duration>', 'how long, e.g. 90s, 15m, 2h, 1d, 1h30m (default: the policy default)', durationArg)
    .requiredOption('--reason <text>', 'why you need it (kept in the audit log)')
    .option('--account-name <name>', 'name of your JIT account on this target (first request only)')
    .option('--ticket <id>', 'ticket or change reference')
    .option('--start <iso>', 'start later, at this ISO 8601 time (e.g. 2026-03-01T09:00:00Z)', isoArg)
    .option('--public-key-file <file>', 'your public key for targets that issue certificates (OpenSSH .pub, PEM public key or CSR)')
    .option('--out <file>', 'write the certificate or token to FILE (and a generated private key to FILE.key), mode 0600')
    .option('--totp <code>', 'the 6-digit code from your authenticator app, when the policy asks for one (asked for when needed, if there is a terminal)', totpArg)
    .option('--emergency', 'break-glass: access at once without approval, where the policy allows it; reviewed afterwards')
    .option('--wait', 'stay until the request is approved or denied, then show the password')
    .option('--json', 'machine-readable output (includes the password)')
    .action(async (opts: RequestOptions, cmd: Command) => {
      const ctx = await connect(cmd);
      const publicKey = opts.publicKeyFile !== undefined ? await readPublicKey(opts.publicKeyFile) : undefined;
      const target = await resolveTarget(ctx, opts.target);
      const tenant = await ctx.tenant();
      let grant = await withTotp(opts.totp, (totp) =>
        ctx.api.call('requestAccess', {
          params: { tenant },
          body: {
            targetId: target.id,
            entitlements: opts.entitlement,
            reason: opts.reason,
            ...(opts.duration !== undefined ? { durationSeconds: opts.duration } : {}),
            ...(opts.accountName !== undefined ? { accountName: opts.accountName } : {}),
            ...(opts.ticket !== undefined ? { ticket: opts.ticket } : {}),
            ...(opts.start !== undefined ? { startAt: opts.start } : {}),
            ...(publicKey !== undefined ? { publicKey } : {}),
            ...(opts.emergency ? { emergency: true } : {}),
            ...(totp !== undefined ? { totp } : {}),
          },
        }),
      );
      if (grant.emergency && !ctx.json) note('timebox: break-glass: no approval was asked for; approvers are told and the grant is reviewed afterwards.');
      if (opts.wait && stillPending(grant)) grant = await waitWithProgress(ctx, grant);
      await finishGrant(ctx, grant, opts.out !== undefined ? { out: opts.out } : {});
    });
}
