/** Policy evaluation and approval resolution, table-driven, with fixed instants (no clock). */
import { describe, expect, it } from 'vitest';
import { inWindow, neverOpens, windowEnd, type AccessWindow } from './access-window.js';
import { decisionRefusal, resolveApprovals, type Decision } from './approval.js';
import { evaluateAsk, type PolicyBasics } from './policy-evaluation.js';
import { policyRulesSchema, rulesProblems } from './policy-rules.js';
import { checkTicketPattern } from './safe-pattern.js';

const at = (iso: string) => new Date(iso);
const office: AccessWindow = { timeZone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' };

describe('access windows', () => {
  const cases: Array<[string, AccessWindow, string, boolean]> = [
    ['office hours, Tuesday 09:00 Berlin (summer, UTC+2)', office, '2026-06-02T07:00:00Z', true],
    ['office hours, Tuesday 07:59 Berlin', office, '2026-06-02T05:59:00Z', false],
    ['office hours end is exclusive: 18:00 Berlin', office, '2026-06-02T16:00:00Z', false],
    ['winter offset (UTC+1): 08:00 Berlin is 07:00Z', office, '2026-01-13T07:00:00Z', true],
    ['winter: 06:30Z is 07:30 Berlin', office, '2026-01-13T06:30:00Z', false],
    ['Saturday is not a weekday', office, '2026-06-06T10:00:00Z', false],
    ['Friday late UTC is already Saturday in Tokyo', { ...office, timeZone: 'Asia/Tokyo' }, '2026-06-05T23:30:00Z', false],
    ['Monday morning Tokyo is Sunday UTC', { ...office, timeZone: 'Asia/Tokyo' }, '2026-06-07T23:30:00Z', true],
    ['overnight window: Saturday 05:00 belongs to Friday', { timeZone: 'UTC', days: ['fri'], from: '22:00', to: '06:00' }, '2026-06-06T05:00:00Z', true],
    ['overnight window: Saturday 22:00 is not Friday', { timeZone: 'UTC', days: ['fri'], from: '22:00', to: '06:00' }, '2026-06-06T22:00:00Z', false],
    ['date range: before it', { ...office, dates: { from: '2026-06-10', to: '2026-06-20' } }, '2026-06-09T08:00:00Z', false],
    ['date range: inside it', { ...office, dates: { from: '2026-06-10', to: '2026-06-20' } }, '2026-06-10T08:00:00Z', true],
    ['DST spring forward: 01:30 CET exists', { timeZone: 'Europe/Berlin', days: ['sun'], from: '01:00', to: '03:00' }, '2026-03-29T00:30:00Z', true],
    ['DST spring forward: 02:00 CET jumps to 03:00 CEST, outside', { timeZone: 'Europe/Berlin', days: ['sun'], from: '01:00', to: '03:00' }, '2026-03-29T01:00:00Z', false],
    ['DST fall back: first 02:30 (CEST)', { timeZone: 'Europe/Berlin', days: ['sun'], from: '02:00', to: '03:00' }, '2026-10-25T00:30:00Z', true],
    ['DST fall back: second 02:30 (CET)', { timeZone: 'Europe/Berlin', days: ['sun'], from: '02:00', to: '03:00' }, '2026-10-25T01:30:00Z', true],
    ['New York spring forward: 03:30 EDT inside 01:00–04:00', { timeZone: 'America/New_York', days: ['sun'], from: '01:00', to: '04:00' }, '2026-03-08T07:30:00Z', true],
  ];
  it.each(cases)('%s', (_n, w, instant, expected) => expect(inWindow(w, at(instant))).toBe(expected));

  it('ends an hour early on the spring-forward night and an hour late on the fall-back night', () => {
    const spring: AccessWindow = { timeZone: 'Europe/Berlin', days: ['sun'], from: '01:00', to: '03:00' };
    expect(windowEnd([spring], at('2026-03-29T00:00:00Z'), 6 * 3600_000)).toEqual(at('2026-03-29T01:00:00Z'));
    const fall: AccessWindow = { timeZone: 'Europe/Berlin', days: ['sun'], from: '02:00', to: '03:00' };
    expect(windowEnd([fall], at('2026-10-25T00:00:00Z'), 6 * 3600_000)).toEqual(at('2026-10-25T02:00:00Z'));
  });

  const never: Array<[string, AccessWindow, RegExp]> = [
    ['no days', { ...office, days: [] }, /no days of the week/],
    ['same open and close', { ...office, from: '09:00', to: '09:00' }, /opens and closes at the same time/],
    ['range ends before it starts', { ...office, dates: { from: '2026-07-02', to: '2026-07-01' } }, /ends .* before it starts/],
    ['range in the past', { ...office, dates: { from: '2020-01-01', to: '2020-01-31' } }, /ended on 2020-01-31/],
    ['a weekend range with weekdays only', { ...office, dates: { from: '2026-06-06', to: '2026-06-07' } }, /no day between/],
  ];
  it.each(never)('refuses a window that never opens: %s', (_n, w, why) => expect(neverOpens(w, at('2026-06-01T00:00:00Z'))).toMatch(why));
  it('accepts a window that opens', () => expect(neverOpens({ ...office, dates: { from: '2026-06-05', to: '2026-06-07' } }, at('2026-06-01T00:00:00Z'))).toBeNull());
});

describe('ticket patterns', () => {
  it.each([
    ['^INC-[0-9]{4,8}$', null],
    ['(CHG|INC)-\\d+', null],
    ['(', /not a valid regular expression/],
    // Linear-time engine: patterns that backtrack exponentially elsewhere are harmless here.
    ['(a+)+$', null],
    ['\\d*\\d*\\d*\\d*\\d*\\d*\\d*\\d*', null],
    ['(INC)-\\1', /backreferences/],
    ['INC-(?=\\d)\\d+', /lookahead/],
    ['(?<!X)INC', /lookbehind/],
    ['[(?=]x', null],
    ['INC-\\d{4}+', /possessive/],
    // A class of letters, then "one or more": the brace closes the escape, not a quantifier.
    ['\\p{L}+-\\d+', null],
    ['\\x{41}+', null],
  ])('%s', (pattern, expected) => {
    const r = checkTicketPattern(pattern);
    if (expected === null) expect(r).toBeNull();
    else expect(r).toMatch(expected);
  });
});

describe('rule checks', () => {
  const A = '00000000-0000-4000-8000-00000000000a';
  const B = '00000000-0000-4000-8000-00000000000b';
  const G = '00000000-0000-4000-8000-0000000000aa';
  const groups = new Map([[G, [A, B]]]);
  const problems = (rules: unknown) => rulesProblems(policyRulesSchema.parse(rules), at('2026-06-01T00:00:00Z'), groups);
  it('refuses overlapping levels, unreachable quorums, unknown groups, windows that never open, unsafe patterns', () => {
    expect(problems({ approvalLevels: [{ approverIds: [A] }, { groupIds: [G] }] })).toEqual([
      'approvalLevels[1] and approvalLevels[0] overlap: one person may approve at one level only',
    ]);
    expect(problems({ approvalLevels: [{ approverIds: [A], quorum: 2 }] })).toEqual([
      'approvalLevels[0] needs 2 approvals but has only 1 possible approver(s)',
    ]);
    expect(problems({ approvalLevels: [{ groupIds: [B] }] })[0]).toMatch(/unknown operator group/);
    expect(problems({ windows: [{ ...office, days: [] }] })).toEqual(['windows[0] never opens: the window has no days of the week']);
    expect(problems({ ticket: { required: true, pattern: '(a)\\1' } })[0]).toMatch(/backreferences/);
    expect(problems({ approvalLevels: [{ groupIds: [G], quorum: 2 }] })).toEqual([]);
  });
});

describe('request evaluation', () => {
  const base = (rules: unknown = {}): PolicyBasics => ({
    name: 'ops',
    maxDurationSeconds: 4 * 3600,
    reasonMinLength: 10,
    rules: policyRulesSchema.parse(rules),
  });
  const ctx = { now: at('2026-06-02T07:00:00Z'), requesterGroupIds: [] as string[], openGrants: 0 };
  const ask = { durationSeconds: 3600, reason: 'INC-1 restart service' };
  const G = '00000000-0000-4000-8000-0000000000aa';
  const A = '00000000-0000-4000-8000-00000000000a';

  const cases: Array<[string, PolicyBasics, Partial<typeof ask> & Record<string, unknown>, Partial<typeof ctx>, string, RegExp | null]> = [
    ['no approval levels: approved at once', base(), {}, {}, 'auto', null],
    ['over the maximum', base(), { durationSeconds: 5 * 3600 }, {}, 'refused', /5h is longer than policy "ops" allows \(4h\)/],
    ['reason too short', base(), { reason: 'fix' }, {}, 'refused', /at least 10 characters/],
    ['ticket required', base({ ticket: { required: true } }), {}, {}, 'refused', /requires a ticket/],
    ['ticket of the wrong form', base({ ticket: { required: true, pattern: 'INC-\\d{4}' } }), { ticket: 'INC-12' }, {}, 'refused', /does not have the form/],
    ['ticket of the right form', base({ ticket: { required: true, pattern: 'INC-\\d{4}' } }), { ticket: 'INC-1234' }, {}, 'auto', null],
    ['outside office hours (Saturday)', base({ windows: [office] }), {}, { now: at('2026-06-06T10:00:00Z') }, 'refused', /allowed only mon,tue,wed,thu,fri 08:00–18:00 Europe\/Berlin/],
    ['running past the window end', base({ windows: [office] }), { durationSeconds: 3 * 3600 }, { now: at('2026-06-02T14:00:00Z') }, 'refused', /ask for at most 2h/],
    ['scheduled start not allowed', base(), { startAt: at('2026-06-03T07:00:00Z') }, {}, 'refused', /does not allow scheduling/],
    ['scheduled start too far ahead', base({ maxScheduleAheadDays: 1 }), { startAt: at('2026-06-05T07:00:00Z') }, {}, 'refused', /at most 1 day/],
    ['too many open grants', base({ maxConcurrentGrants: 2 }), {}, { openGrants: 2 }, 'refused', /at most 2/],
    ['approval levels wait', base({ approvalLevels: [{ approverIds: [A] }] }), {}, {}, 'approval', null],
    ['auto-approval by group and duration', base({ approvalLevels: [{ approverIds: [A] }], autoApprove: [{ name: 'oncall short', requesterGroupIds: [G], maxDurationSeconds: 3600 }] }), {}, { requesterGroupIds: [G] }, 'auto', null],
    ['auto-approval rule not met: too long', base({ approvalLevels: [{ approverIds: [A] }], autoApprove: [{ name: 'short', maxDurationSeconds: 1800 }] }), {}, {}, 'approval', null],
    ['break-glass refused by policy', base(), { emergency: true }, {}, 'refused', /does not allow emergency/],
    ['break-glass skips approvals and windows', base({ breakGlass: { allowed: true }, windows: [office], approvalLevels: [{ approverIds: [A] }] }), { emergency: true }, { now: at('2026-06-06T03:00:00Z') }, 'break_glass', null],
  ];
  it.each(cases)('%s', (_n, policy, over, c, route, message) => {
    const e = evaluateAsk(policy, { ...ask, ...over } as never, { ...ctx, ...c });
    expect(e.route.kind).toBe(route);
    if (message) expect(e.refusals.join('\n')).toMatch(message);
    else expect(e.refusals).toEqual([]);
  });
});

describe('approval resolution', () => {
  const levels = [
    { approverIds: ['a1', 'a2', 'a3'], quorum: 2 },
    { approverIds: ['b1'], quorum: 1 },
  ];
  const d = (approverId: string, level: number, decision: 'approve' | 'deny' = 'approve'): Decision => ({ approverId, level, decision });
  it('asks level 2 only after level 1 has its quorum', () => {
    expect(resolveApprovals(levels, 'req', [])).toMatchObject({ status: 'pending', level: 1, approvals: 0, quorum: 2 });
    expect(resolveApprovals(levels, 'req', [d('a1', 1)])).toMatchObject({ status: 'pending', level: 1, approvals: 1, waitingOn: ['a2', 'a3'] });
    expect(resolveApprovals(levels, 'req', [d('a1', 1), d('a3', 1)])).toMatchObject({ status: 'pending', level: 2, waitingOn: ['b1'] });
    expect(resolveApprovals(levels, 'req', [d('a1', 1), d('a3', 1), d('b1', 2)])).toEqual({ status: 'approved' });
  });
  it('counts an approval only while its approver may still approve at that level', () => {
    // a1 approved, then lost the right (no longer among the level's approvers resolved now).
    const now = [{ approverIds: ['a2', 'a3'], quorum: 2 }, levels[1]!];
    expect(resolveApprovals(now, 'req', [d('a1', 1), d('a2', 1)])).toMatchObject({ status: 'pending', level: 1, approvals: 1, quorum: 2, waitingOn: ['a3'] });
    expect(resolveApprovals(now, 'req', [d('a1', 1), d('a2', 1), d('a3', 1)])).toMatchObject({ status: 'pending', level: 2 });
    // The requester's own approval never counts, even if recorded.
    expect(resolveApprovals(levels, 'a1', [d('a1', 1), d('a2', 1)])).toMatchObject({ status: 'pending', level: 1, approvals: 1 });
  });
  it('ends at the first deny', () => {
    expect(resolveApprovals(levels, 'req', [d('a1', 1), d('a2', 1, 'deny')])).toEqual({ status: 'denied', by: 'a2', level: 1 });
  });
  it.each([
    ['self-approval', 'a1', [], 'a1', 'own_request', /your own request/],
    ['twice', 'req', [d('a1', 1)], 'a1', 'already_decided', /already decided/],
    ['level 2 before level 1', 'req', [], 'b1', 'other_level', /you approve at level 2; the request is waiting for level 1/],
    ['a stranger', 'req', [], 'zz', 'not_an_approver', /not an approver/],
    ['after approval', 'req', [d('a1', 1), d('a2', 1), d('b1', 2)], 'a3', 'settled', /already approved/],
  ] as const)('refuses %s', (_n, requester, decisions, approver, code, why) => {
    const refusal = decisionRefusal(levels, requester, decisions as readonly Decision[], approver);
    expect(refusal?.code).toBe(code);
    expect(refusal?.message).toMatch(why);
  });
  it('lets an eligible approver decide', () => expect(decisionRefusal(levels, 'req', [], 'a2')).toBeNull());
});
