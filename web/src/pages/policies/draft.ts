/**
 * The policy editor's draft: what the form holds (text as typed), the request body built from it
 * with the checks that need no server, and where the server's answer belongs in the form. The
 * server stays the judge of meaning (quorums, windows that never open, unsafe ticket patterns):
 * its problems are shown at the level, window or field they name.
 */
import { ApiError, messageOf } from '../../api';
import { formatDuration, parseDuration } from '../../format';
import type { AccessWindow, CallArgs, Policy, Role, Weekday } from '../../../../src/api/types.js';

export interface LevelDraft {
  key: number;
  name: string;
  approverIds: string[];
  groupIds: string[];
  quorum: string;
}

export interface WindowDraft {
  key: number;
  timeZone: string;
  days: Weekday[];
  from: string;
  to: string;
  /** Kept as loaded when editing (the form has no date-range fields). */
  dates?: { from: string; to: string };
}

export interface AutoDraft {
  key: number;
  name: string;
  groupIds: string[];
  maxDuration: string;
  /** Kept as loaded when editing (the form has no per-rule windows). */
  windows?: AccessWindow[];
}

export interface PolicyDraft {
  name: string;
  targetId: string;
  entitlements: string;
  roles: Role[];
  operatorIds: string[];
  groupIds: string[];
  def: string;
  max: string;
  reasonMin: string;
  ticketRequired: boolean;
  ticketPattern: string;
  windows: WindowDraft[];
  levels: LevelDraft[];
  auto: AutoDraft[];
  extensionAllowed: boolean;
  extensionMaxTotal: string;
  extensionSelf: boolean;
  breakGlass: boolean;
  mfa: { request: boolean; approve: boolean; reveal: boolean };
  gateway: { only: boolean; recordInput: boolean; allowPortForwarding: boolean; allowSftp: boolean };
  scheduleAheadDays: string;
  maxConcurrent: string;
  /** Kept as loaded when editing (not a form field). */
  pendingTtlSeconds?: number;
}

/** Error keys: fields, `level.N`, `window.N`, `auto.N`, and `form`. */
export type PolicyErrors = Record<string, string | undefined>;

let nextKey = 1;
export const newKey = () => nextKey++;

export const browserTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export const emptyLevel = (): LevelDraft => ({ key: newKey(), name: '', approverIds: [], groupIds: [], quorum: '1' });
export const emptyWindow = (): WindowDraft => ({ key: newKey(), timeZone: browserTimeZone(), days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' });
export const emptyAuto = (): AutoDraft => ({ key: newKey(), name: '', groupIds: [], maxDuration: '' });

export const emptyDraft = (): PolicyDraft => ({
  name: '',
  targetId: '',
  entitlements: '',
  roles: ['requester'],
  operatorIds: [],
  groupIds: [],
  def: '1h',
  max: '4h',
  reasonMin: '10',
  ticketRequired: false,
  ticketPattern: '',
  windows: [],
  levels: [],
  auto: [],
  extensionAllowed: false,
  extensionMaxTotal: '8h',
  extensionSelf: false,
  breakGlass: false,
  mfa: { request: false, approve: false, reveal: false },
  gateway: { only: false, recordInput: false, allowPortForwarding: false, allowSftp: false },
  scheduleAheadDays: '0',
  maxConcurrent: '',
});

/** The form filled in from a saved policy, for editing. */
export function draftOf(p: Policy): PolicyDraft {
  const r = p.rules;
  const base = emptyDraft();
  return {
    ...base,
    name: p.name,
    targetId: p.targetId ?? '',
    entitlements: p.entitlements?.join(', ') ?? '',
    roles: p.requesterRoles as Role[],
    operatorIds: r?.requesterOperatorIds ?? [],
    groupIds: r?.requesterGroupIds ?? [],
    def: formatDuration(p.defaultDurationSeconds),
    max: formatDuration(p.maxDurationSeconds),
    reasonMin: String(p.reasonMinLength),
    pendingTtlSeconds: p.pendingTtlSeconds,
    ...(r
      ? {
          ticketRequired: r.ticket?.required ?? false,
          ticketPattern: r.ticket?.pattern ?? '',
          windows: r.windows.map((w) => ({ key: newKey(), timeZone: w.timeZone, days: w.days, from: w.from, to: w.to, ...(w.dates ? { dates: w.dates } : {}) })),
          levels: r.approvalLevels.map((l) => ({ key: newKey(), name: l.name ?? '', approverIds: l.approverIds, groupIds: l.groupIds, quorum: String(l.quorum) })),
          auto: r.autoApprove.map((a) => ({
            key: newKey(),
            name: a.name,
            groupIds: a.requesterGroupIds ?? [],
            maxDuration: a.maxDurationSeconds ? formatDuration(a.maxDurationSeconds) : '',
            ...(a.windows ? { windows: a.windows } : {}),
          })),
          extensionAllowed: r.extension?.allowed ?? false,
          extensionMaxTotal: r.extension ? formatDuration(r.extension.maxTotalSeconds) : base.extensionMaxTotal,
          extensionSelf: r.extension?.selfApprove ?? false,
          breakGlass: r.breakGlass.allowed,
          mfa: { ...r.mfa },
          gateway: { ...r.gateway },
          scheduleAheadDays: String(r.maxScheduleAheadDays),
          maxConcurrent: r.maxConcurrentGrants ? String(r.maxConcurrentGrants) : '',
        }
      : {}),
  };
}

const intIn = (text: string, min: number, max: number): number | null => {
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isInteger(n) && n >= min && n <= max ? n : null;
};
const durationMsg = 'Enter a duration such as 30m, 1h or 1h30m.';

/** The body for POST …/policies, or the problems that keep it from being sent. */
export function toBody(d: PolicyDraft): { body: CallArgs<'createPolicy'>['body'] | null; errors: PolicyErrors } {
  const e: PolicyErrors = {};
  const def = parseDuration(d.def);
  const max = parseDuration(d.max);
  if (!d.name.trim()) e.name = 'Give the policy a name.';
  if (d.roles.length + d.operatorIds.length + d.groupIds.length === 0) e.requesters = 'Choose who may request: a role, a person or a group.';
  if (def === null) e.default = durationMsg;
  if (max === null) e.max = durationMsg;
  if (def !== null && max !== null && def > max) e.default = 'The default cannot be longer than the maximum.';
  const reasonMin = intIn(d.reasonMin || '0', 0, 500);
  if (reasonMin === null) e.reasonMin = 'Enter a number from 0 to 500.';
  const ahead = intIn(d.scheduleAheadDays || '0', 0, 365);
  if (ahead === null) e.schedule = 'Enter a number of days from 0 to 365.';
  const concurrent = d.maxConcurrent.trim() ? intIn(d.maxConcurrent, 1, 1000) : undefined;
  if (concurrent === null) e.concurrent = 'Enter a number from 1 to 1000, or leave it empty.';
  const extTotal = parseDuration(d.extensionMaxTotal);
  if (d.extensionAllowed && (extTotal === null || extTotal < 60)) e.extension = 'Enter the longest total, at least 1m, e.g. 8h.';
  if (d.ticketPattern.length > 200) e.ticket = 'Keep the pattern under 200 characters.';
  d.levels.forEach((l, i) => {
    if (intIn(l.quorum, 1, 50) === null) e[`level.${i}`] = 'The quorum is a number from 1 to 50.';
  });
  d.windows.forEach((w, i) => {
    if (!/^\d\d:\d\d$/.test(w.from) || !/^\d\d:\d\d$/.test(w.to)) e[`window.${i}`] = 'Enter both times as HH:MM.';
  });
  d.auto.forEach((a, i) => {
    if (!a.name.trim()) e[`auto.${i}`] = 'Give the rule a name.';
    else if (a.maxDuration.trim() && parseDuration(a.maxDuration) === null) e[`auto.${i}`] = durationMsg;
  });
  if (Object.values(e).some(Boolean)) return { body: null, errors: e };

  const entitlements = d.entitlements.split(/[\s,]+/).filter(Boolean);
  const rules: NonNullable<CallArgs<'createPolicy'>['body']['rules']> = {
    requesterOperatorIds: d.operatorIds,
    requesterGroupIds: d.groupIds,
    windows: d.windows.map(({ timeZone, days, from, to, dates }) => ({ timeZone, days, from, to, ...(dates ? { dates } : {}) })),
    maxScheduleAheadDays: ahead!,
    approvalLevels: d.levels.map((l) => ({ ...(l.name.trim() ? { name: l.name.trim() } : {}), approverIds: l.approverIds, groupIds: l.groupIds, quorum: Number(l.quorum) })),
    autoApprove: d.auto.map((a) => ({
      name: a.name.trim(),
      ...(a.groupIds.length ? { requesterGroupIds: a.groupIds } : {}),
      ...(a.maxDuration.trim() ? { maxDurationSeconds: parseDuration(a.maxDuration)! } : {}),
      ...(a.windows ? { windows: a.windows } : {}),
    })),
    breakGlass: { allowed: d.breakGlass },
    mfa: d.mfa,
    gateway: d.gateway,
    ...(d.ticketRequired || d.ticketPattern.trim() ? { ticket: { required: d.ticketRequired, ...(d.ticketPattern.trim() ? { pattern: d.ticketPattern.trim() } : {}) } } : {}),
    ...(d.extensionAllowed ? { extension: { allowed: true, maxTotalSeconds: extTotal!, selfApprove: d.extensionSelf } } : {}),
    ...(concurrent ? { maxConcurrentGrants: concurrent } : {}),
  };
  const body = {
    name: d.name.trim(),
    targetId: d.targetId || null,
    entitlements: entitlements.length ? entitlements : null,
    requesterRoles: d.roles,
    defaultDurationSeconds: def!,
    maxDurationSeconds: max!,
    reasonMinLength: reasonMin!,
    ...(d.pendingTtlSeconds !== undefined ? { pendingTtlSeconds: d.pendingTtlSeconds } : {}),
    rules,
  };
  return { body, errors: {} };
}

/** Where one problem (an issue path, or a sentence of the server's) belongs. */
function keyOf(where: string, d: PolicyDraft): string | null {
  const at = (re: RegExp, prefix: string) => {
    const m = re.exec(where);
    return m ? `${prefix}.${m[1]}` : null;
  };
  const auto = /autoApprove "([^"]*)"/.exec(where);
  if (auto) {
    const i = d.auto.findIndex((a) => a.name.trim() === auto[1]);
    return i >= 0 ? `auto.${i}` : null;
  }
  return (
    at(/approvalLevels\[(\d+)\]/, 'level') ??
    at(/(?:^|\.)windows\[(\d+)\]/, 'window') ??
    at(/autoApprove\[(\d+)\]/, 'auto') ??
    ([
      [/ticket/, 'ticket'],
      [/extension/, 'extension'],
      [/maxScheduleAheadDays/, 'schedule'],
      [/maxConcurrentGrants/, 'concurrent'],
      [/policy named|body\.name/, 'name'],
      [/default duration|defaultDurationSeconds/, 'default'],
      [/maxDurationSeconds/, 'max'],
      [/reasonMinLength/, 'reasonMin'],
      [/say who may request|requester|unknown role/, 'requesters'],
      [/body\.targetId|target .* not found/, 'target'],
      [/body\.entitlements/, 'entitlements'],
    ] as [RegExp, string][]).find(([re]) => re.test(where))?.[1] ??
    null
  );
}

export function placePolicyError(err: unknown, d: PolicyDraft): PolicyErrors {
  const out: PolicyErrors = {};
  const put = (key: string | null, message: string) => {
    const k = key ?? 'form';
    out[k] = out[k] ? `${out[k]} ${message}` : message;
  };
  if (!(err instanceof ApiError) || err.status >= 500 || err.status === 0) return { form: messageOf(err) };
  const problems = (err.details as { problems?: unknown } | undefined)?.problems;
  if (err.issues.length) for (const i of err.issues) put(keyOf(i.path, d), `${i.path.replace(/^body\.(rules\.)?/, '')}: ${i.message}`);
  else if (Array.isArray(problems)) for (const p of problems) put(keyOf(String(p), d), String(p));
  else put(keyOf(err.message, d), err.message);
  return out;
}
