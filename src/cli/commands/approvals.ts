/**
 * `timebox approvals list | approve | deny | shorten`: the approver's inbox. A request is named by
 * its grant id, an extension by its extension id (both as `approvals list` shows them); approve
 * and deny work on either.
 */
import type { Command } from 'commander';
import type { Grant, InboxItem as ApprovalItem } from '../../api/types.js';
import { durationArg, isoArg } from '../args.js';
import { connect, idArg, type Ctx } from '../context.js';
import { formatDuration } from '../duration.js';
import { isConflictCode } from '../../core/approval.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { clean, note, print, printJson, table, when } from '../output.js';
import { totpArg, withTotp } from '../totp.js';

async function inbox(ctx: Ctx): Promise<ApprovalItem[]> {
  return (await ctx.api.pages('listApprovals', { params: { tenant: await ctx.tenant() } })).items;
}

/** The inbox entry an id names: an extension by its own id, a request by its grant id. */
async function find(ctx: Ctx, id: string): Promise<ApprovalItem> {
  const items = await inbox(ctx);
  const item = items.find((i) => i.kind === 'extension' && i.extensionId === id) ?? items.find((i) => i.kind === 'request' && i.grant.id === id);
  if (!item) {
    throw new CliError(`nothing waiting for your decision has id ${id} (it may be decided already, or not yours to decide); see timebox approvals list`, ExitCode.notFound);
  }
  // The exit code the API's answer would give: a missing right is 403 (3), a decision already
  // made or settled is 409 (5).
  if (item.cannotDecide) {
    const conflict = item.cannotDecideCode !== null && isConflictCode(item.cannotDecideCode);
    throw new CliError(`you cannot decide on ${id}: ${clean(item.cannotDecide)}`, conflict ? ExitCode.refused : ExitCode.auth);
  }
  return item;
}

const what = (g: Grant) => `${clean(g.operatorEmail)}'s request for ${g.entitlements.map(clean).join(', ')} on ${clean(g.targetName)}`;

function printDecided(g: Grant, verb: string): void {
  if (g.state === 'requested') {
    print(`Approved at level ${g.approvalLevel}: ${what(g)} (grant ${g.id}) now waits for the next approvers.`);
    return;
  }
  print(`${verb} ${what(g)} (grant ${g.id}); it is now ${g.state}.`);
  if (g.state === 'active' || g.state === 'activating' || g.state === 'approved') {
    const end = g.expiresAt ? `, until ${when(g.expiresAt)}` : '';
    print(`Access for ${formatDuration(g.durationSeconds)}${end}. The requester sees the password with: timebox grants credential ${g.id}`);
  }
}

interface DecideOptions {
  reason?: string;
  duration?: number;
  start?: string;
  totp?: string;
}

async function decide(ctx: Ctx, id: string, decision: 'approve' | 'deny', opts: DecideOptions): Promise<void> {
  const item = await find(ctx, idArg(id, 'grant or extension'));
  const body = (totp: string | undefined) => ({
    ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
    ...(totp !== undefined ? { totp } : {}),
  });
  if (item.kind === 'extension') {
    if (opts.duration !== undefined || opts.start !== undefined) {
      throw new CliError('an extension is approved as asked (or denied); --duration and --start apply to requests only', ExitCode.usage);
    }
    const params = { tenant: await ctx.tenant(), extensionId: item.extensionId! };
    const key = decision === 'approve' ? 'approveExtension' : 'denyExtension';
    const r = await withTotp(opts.totp, (totp) => ctx.api.call(key, { params, body: body(totp) }));
    if (ctx.json) return printJson(r);
    const g = r.grant ?? item.grant;
    const more = formatDuration(item.extensionSeconds ?? 0);
    if (r.state === 'approved') print(`Extension of ${more} approved: grant ${g.id} of ${clean(g.operatorEmail)} now ends ${when(g.expiresAt)}.`);
    else if (r.state === 'denied') print(`Extension of ${more} denied: grant ${g.id} of ${clean(g.operatorEmail)} still ends ${when(g.expiresAt)}.`);
    else print(`Extension ${item.extensionId} is ${clean(r.state)}.`);
    return;
  }
  const params = { tenant: await ctx.tenant(), grantId: item.grant.id };
  const grant = await withTotp(opts.totp, (totp) =>
    decision === 'deny'
      ? // --reason is required by `deny`, so it is always there
        ctx.api.call('denyRequest', { params, body: { ...body(totp), reason: opts.reason ?? '' } })
      : ctx.api.call('approveRequest', {
          params,
          body: {
            ...body(totp),
            ...(opts.duration !== undefined ? { durationSeconds: opts.duration } : {}),
            ...(opts.start !== undefined ? { startAt: opts.start } : {}),
          },
        }),
  );
  if (ctx.json) return printJson(grant);
  if (decision === 'deny') {
    print(`Denied ${what(grant)} (grant ${grant.id}).`);
    return;
  }
  if (opts.duration !== undefined && opts.duration < item.grant.durationSeconds) {
    note(`timebox: shortened from ${formatDuration(item.grant.durationSeconds)} to ${formatDuration(grant.durationSeconds)}`);
  }
  printDecided(grant, 'Approved');
}

export function registerApprovals(program: Command): void {
  const approvals = program.command('approvals').description('requests and extensions waiting for your decision');

  approvals
    .command('list')
    .description('what waits for you: requests (by grant id) and extensions (by extension id)')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const items = await inbox(ctx);
      if (ctx.json) return printJson({ items });
      table(
        ['ID', 'KIND', 'REQUESTED BY', 'TARGET', 'ENTITLEMENTS', 'FOR', 'LEVEL', 'REASON', 'NOTE'],
        items.map((i) => [
          i.kind === 'extension' ? i.extensionId : i.grant.id,
          i.kind,
          i.grant.operatorEmail,
          i.grant.targetName,
          i.grant.entitlements.join(','),
          formatDuration(i.kind === 'extension' ? (i.extensionSeconds ?? 0) : i.grant.durationSeconds) + (i.kind === 'extension' ? ' more' : ''),
          `${i.level}/${i.levels} (${i.approvals}/${i.quorum})`,
          i.kind === 'extension' ? i.extensionReason : i.grant.reason,
          i.cannotDecide ?? (i.grant.ticket ? `ticket ${i.grant.ticket}` : ''),
        ]),
        'Nothing waits for your decision.',
      );
    });

  const codeOption = ['--totp <code>', 'the 6-digit code from your authenticator app, when the policy asks approvers for one (asked for when needed, if there is a terminal)'] as const;

  approvals
    .command('approve')
    .description('approve a request at your level (optionally shorter, or starting later), or an extension')
    .argument('<id>', 'grant id of a request, or extension id')
    .option('--reason <text>', 'a note for the audit log')
    .option('--duration <duration>', 'grant less time than asked, e.g. 30m (never more)', durationArg)
    .option('--start <iso>', 'let access start later, at this ISO 8601 time', isoArg)
    .option(codeOption[0], codeOption[1], totpArg)
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: DecideOptions, cmd: Command) => decide(await connect(cmd), id, 'approve', opts));

  approvals
    .command('shorten')
    .description('approve a request for less time than was asked')
    .argument('<id>', 'grant id of the request')
    .requiredOption('--duration <duration>', 'how long instead, e.g. 30m', durationArg)
    .option('--reason <text>', 'a note for the audit log')
    .option(codeOption[0], codeOption[1], totpArg)
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: DecideOptions & { duration: number }, cmd: Command) => {
      const ctx = await connect(cmd);
      const item = await find(ctx, idArg(id, 'grant'));
      if (item.kind !== 'request') throw new CliError('an extension cannot be shortened; approve or deny it', ExitCode.usage);
      if (opts.duration >= item.grant.durationSeconds) {
        throw new CliError(`${formatDuration(opts.duration)} is not shorter than the ${formatDuration(item.grant.durationSeconds)} asked for`, ExitCode.usage);
      }
      await decide(ctx, id, 'approve', opts);
    });

  approvals
    .command('deny')
    .description('deny a request or an extension')
    .argument('<id>', 'grant id of a request, or extension id')
    .requiredOption('--reason <text>', 'why (the requester sees it; kept in the audit log)')
    .option(codeOption[0], codeOption[1], totpArg)
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: DecideOptions, cmd: Command) => decide(await connect(cmd), id, 'deny', opts));
}
