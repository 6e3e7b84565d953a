/** `timebox policies simulate`: "what would happen if alice asked for this on Saturday for 4h?" */
import type { Command } from 'commander';
import { collect, durationArg, isoArg } from '../args.js';
import { connect, resolveTarget } from '../context.js';
import { clean, keyValues, print, printJson } from '../output.js';

const routeWords: Record<string, string> = {
  refused: 'refused',
  auto: 'approved at once',
  approval: 'waits for approval',
  break_glass: 'granted at once as break-glass (everyone alerted, review owed)',
};

export function registerPolicySimulate(policies: Command): void {
  policies
    .command('simulate')
    .description('show which policy would match a request, who must approve, and what would be refused; writes nothing')
    .requiredOption('--as <email>', 'the person asking')
    .requiredOption('--target <target>', 'target id or name')
    .requiredOption('--entitlement <name>', 'entitlement (repeatable)', collect)
    .option('--duration <duration>', 'e.g. 4h', durationArg)
    .option('--at <iso>', 'when the request would be made (default: now)', isoArg)
    .option('--ticket <ticket>', 'ticket or change number')
    .option('--emergency', 'as a break-glass request')
    .option('--json', 'machine-readable output')
    .action(async (opts: { as: string; target: string; entitlement: string[]; duration?: number; at?: string; ticket?: string; emergency?: boolean }, cmd: Command) => {
      const ctx = await connect(cmd);
      const target = await resolveTarget(ctx, opts.target);
      const sim = await ctx.api.call('simulatePolicy', { params: { tenant: await ctx.tenant() }, body: {
        operatorEmail: opts.as,
        targetId: target.id,
        entitlements: opts.entitlement,
        ...(opts.duration !== undefined ? { durationSeconds: opts.duration } : {}),
        ...(opts.at ? { at: opts.at } : {}),
        ...(opts.ticket ? { ticket: opts.ticket } : {}),
        ...(opts.emergency ? { emergency: true } : {}),
      } });
      if (ctx.json) return printJson(sim);
      keyValues([
        ['policy', sim.policy ?? '(none matches)'],
        ['outcome', sim.autoApprovedBy ? `${routeWords.auto} (${sim.autoApprovedBy})` : (routeWords[sim.route] ?? sim.route)],
      ]);
      for (const l of sim.approvalLevels) print(`level ${l.level}: ${l.quorum} of ${l.approvers.map(clean).join(', ')}`);
      for (const r of sim.refusals) print(`refused: ${clean(r)}`);
      if (sim.route === 'refused') process.exitCode = 5;
    });
}
