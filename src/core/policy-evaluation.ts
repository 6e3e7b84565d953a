/**
 * Does a policy let this request through, and how: refused (with every reason), approved
 * automatically (by which rule), granted at once as break-glass, or waiting for approval levels.
 * Pure, so the API, the simulator and the tests all get the same answer.
 */
import { inAnyWindow, windowEnd, type AccessWindow } from './access-window.js';
import type { PolicyRules } from './policy-rules.js';
import { ticketMatches } from './safe-pattern.js';

export interface PolicyBasics {
  name: string;
  maxDurationSeconds: number;
  reasonMinLength: number;
  rules: PolicyRules;
}

export interface Ask {
  durationSeconds: number;
  reason: string;
  ticket?: string | null;
  startAt?: Date | null;
  emergency?: boolean;
}

export interface AskContext {
  now: Date;
  requesterGroupIds: readonly string[];
  /** The requester's grants on this policy that are pending or live. */
  openGrants: number;
}

export type Route = { kind: 'refused' } | { kind: 'break_glass' } | { kind: 'auto'; rule: string } | { kind: 'approval'; levels: number };

export interface Evaluation {
  route: Route;
  refusals: string[];
}

/** "2h", "30m", "1h30m": the notation the CLI takes. */
export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h ? `${h}h` : '', m ? `${m}m` : '', s || seconds === 0 ? `${s}s` : ''].join('');
}

export function describeWindow(w: AccessWindow): string {
  const days = w.days.length === 7 ? 'every day' : w.days.join(',');
  const dates = w.dates ? ` from ${w.dates.from} to ${w.dates.to}` : '';
  return `${days} ${w.from}–${w.to} ${w.timeZone}${dates}`;
}

/** Why a grant starting at `start` for `durationSeconds` falls outside the windows, or null. */
export function windowRefusal(windows: readonly AccessWindow[], start: Date, durationSeconds: number): string | null {
  if (windows.length === 0) return null;
  if (!inAnyWindow(windows, start)) return `access is allowed only ${windows.map(describeWindow).join(' or ')}`;
  const end = windowEnd(windows, start, durationSeconds * 1000);
  if (end && end.getTime() < start.getTime() + durationSeconds * 1000) {
    const fits = Math.floor((end.getTime() - start.getTime()) / 1000);
    return `the grant would run past the end of the access window at ${end.toISOString()}; ask for at most ${formatDuration(fits)}`;
  }
  return null;
}

export function evaluateAsk(p: PolicyBasics, ask: Ask, ctx: AskContext): Evaluation {
  const r = p.rules;
  const refusals: string[] = [];
  const start = ask.startAt && ask.startAt > ctx.now ? ask.startAt : ctx.now;

  if (ask.durationSeconds > p.maxDurationSeconds) {
    refusals.push(
      `the duration ${formatDuration(ask.durationSeconds)} is longer than policy "${p.name}" allows (${formatDuration(p.maxDurationSeconds)})`,
    );
  }
  if (ask.reason.trim().length < p.reasonMinLength) {
    refusals.push(`give a reason of at least ${p.reasonMinLength} characters (policy "${p.name}")`);
  }
  const ticket = ask.ticket?.trim();
  if (r.ticket?.required && !ticket) refusals.push(`policy "${p.name}" requires a ticket or change number`);
  if (ticket && r.ticket?.pattern && !ticketMatches(r.ticket.pattern, ticket)) {
    refusals.push(`the ticket "${ticket}" does not have the form policy "${p.name}" expects (${r.ticket.pattern})`);
  }
  if (ask.startAt && ask.startAt.getTime() > ctx.now.getTime() + 60_000) {
    const aheadDays = (ask.startAt.getTime() - ctx.now.getTime()) / 86_400_000;
    if (r.maxScheduleAheadDays === 0) refusals.push(`policy "${p.name}" does not allow scheduling a later start`);
    else if (aheadDays > r.maxScheduleAheadDays) {
      refusals.push(`policy "${p.name}" allows a start at most ${r.maxScheduleAheadDays} day(s) ahead`);
    }
  }
  if (r.maxConcurrentGrants !== undefined && ctx.openGrants >= r.maxConcurrentGrants) {
    refusals.push(`you already have ${ctx.openGrants} open grant(s) under policy "${p.name}" (at most ${r.maxConcurrentGrants})`);
  }

  if (ask.emergency) {
    if (!r.breakGlass.allowed) refusals.push(`policy "${p.name}" does not allow emergency (break-glass) access`);
    // Emergencies do not wait for approvers or office hours; everyone is alerted instead.
    return refusals.length ? { route: { kind: 'refused' }, refusals } : { route: { kind: 'break_glass' }, refusals };
  }

  const outside = windowRefusal(r.windows, start, ask.durationSeconds);
  if (outside) refusals.push(outside);
  if (refusals.length) return { route: { kind: 'refused' }, refusals };

  if (r.approvalLevels.length === 0) return { route: { kind: 'auto', rule: 'no approval levels' }, refusals };
  const auto = r.autoApprove.find(
    (rule) =>
      (!rule.requesterGroupIds || rule.requesterGroupIds.some((g) => ctx.requesterGroupIds.includes(g))) &&
      (rule.maxDurationSeconds === undefined || ask.durationSeconds <= rule.maxDurationSeconds) &&
      (!rule.windows || rule.windows.length === 0 || windowRefusal(rule.windows, start, ask.durationSeconds) === null),
  );
  if (auto) return { route: { kind: 'auto', rule: auto.name }, refusals };
  return { route: { kind: 'approval', levels: r.approvalLevels.length }, refusals };
}
