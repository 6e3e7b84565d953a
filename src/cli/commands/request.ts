/** `timebox request`: ask for access; when granted at once, show the password (once). */
import type { Command } from 'commander';
import { apiPost } from '../api-client.js';
import type { Grant } from '../api-types.js';
import { collect, durationArg, isoArg } from '../args.js';
import { connect, resolveTarget } from '../context.js';
import { finishGrant } from '../grant-output.js';

interface RequestOptions {
  target: string;
  entitlement: string[];
  duration?: number;
  reason: string;
  accountName?: string;
  ticket?: string;
  start?: string;
}

export function registerRequest(program: Command): void {
  program
    .command('request')
    .description('ask for entitlements on a target for a while; prints the password once when access is granted')
    .requiredOption('--target <target>', 'target id or name')
    .requiredOption('--entitlement <name>', 'entitlement to get (repeatable, or comma-separated)', collect)
    .option('--duration <duration>', 'how long, e.g. 90s, 15m, 2h, 1d, 1h30m (default: the policy default)', durationArg)
    .requiredOption('--reason <text>', 'why you need it (kept in the audit log)')
    .option('--account-name <name>', 'name of your JIT account on this target (first request only)')
    .option('--ticket <id>', 'ticket or change reference')
    .option('--start <iso>', 'start later, at this ISO 8601 time (e.g. 2026-03-01T09:00:00Z)', isoArg)
    .option('--json', 'machine-readable output (includes the password)')
    .action(async (opts: RequestOptions, cmd: Command) => {
      const ctx = await connect(cmd);
      const target = await resolveTarget(ctx, opts.target);
      const grant = await apiPost<Grant>(ctx.conn, await ctx.tenantPath('/requests'), {
        targetId: target.id,
        entitlements: opts.entitlement,
        reason: opts.reason,
        ...(opts.duration !== undefined ? { durationSeconds: opts.duration } : {}),
        ...(opts.accountName !== undefined ? { accountName: opts.accountName } : {}),
        ...(opts.ticket !== undefined ? { ticket: opts.ticket } : {}),
        ...(opts.start !== undefined ? { startAt: opts.start } : {}),
      });
      await finishGrant(ctx, grant);
    });
}
