import { describe, expect, it } from 'vitest';
import { transition, type GrantEvent, type GrantSnapshot, type GrantState } from './lifecycle.js';
import { backoffDelay, defaultRetryPolicy } from './retry.js';
import { fakeClock } from './clock.js';

const retry = { baseMs: 1000, maxMs: 8000, maxAttempts: 3, slowRetryMs: 600_000 };
const opts = { retry, random: () => 0.5 };
const T0 = '2026-05-01T10:00:00.000Z';
const at = (s: number) => new Date(Date.parse(T0) + s * 1000);

function grant(state: GrantState, over: Partial<GrantSnapshot> = {}): GrantSnapshot {
  return {
    state,
    durationSeconds: 3600,
    requestedStartAt: null,
    pendingExpiresAt: at(86400),
    startsAt: null,
    expiresAt: null,
    revokeAttempts: 0,
    endReason: null,
    ...over,
  };
}
const active = (over: Partial<GrantSnapshot> = {}) => grant('active', { startsAt: at(0), expiresAt: at(3600), ...over });

type Row = [name: string, from: GrantSnapshot, event: GrantEvent, nowS: number, to: GrantState | Error, check?: (g: GrantSnapshot, effects: string[]) => void];

const table: Row[] = [
  ['approve starts at once, clock starts at activation', grant('requested'), { type: 'approve' }, 120, 'activating',
    (g, e) => { expect(g.startsAt).toEqual(at(120)); expect(g.expiresAt).toEqual(at(3720)); expect(e).toContain('schedule:activate'); }],
  ['approve with a future start waits', grant('requested', { requestedStartAt: at(7200) }), { type: 'approve' }, 0, 'approved',
    (g, e) => { expect(g.startsAt).toBeNull(); expect(e).toContain('schedule:activate'); }],
  ['approve after the pending expiry is refused', grant('requested', { pendingExpiresAt: at(60) }), { type: 'approve' }, 61, new Error('expired')],
  ['approve twice is refused', grant('activating'), { type: 'approve' }, 0, new Error('cannot approve')],
  ['deny ends a request', grant('requested'), { type: 'deny', reason: 'no' }, 0, 'denied', (g) => expect(g.endReason).toBe('no')],
  ['deny of an active grant is refused', active(), { type: 'deny', reason: 'x' }, 0, new Error('cannot deny')],
  ['cancel before activation', grant('approved', { requestedStartAt: at(600) }), { type: 'cancel', reason: 'r' }, 0, 'cancelled'],
  ['cancel of an active grant revokes it', active(), { type: 'cancel', reason: 'r' }, 10, 'revoking',
    (_g, e) => expect(e).toContain('schedule:revoke')],
  ['pending timeout expires a request', grant('requested', { pendingExpiresAt: at(60) }), { type: 'pending_timeout' }, 60, 'expired'],
  ['pending timeout too early is refused', grant('requested', { pendingExpiresAt: at(60) }), { type: 'pending_timeout' }, 59, new Error('not expired')],
  ['scheduled start', grant('approved', { requestedStartAt: at(600) }), { type: 'start' }, 600, 'activating',
    (g) => expect(g.expiresAt).toEqual(at(4200))],
  ['scheduled start too early', grant('approved', { requestedStartAt: at(600) }), { type: 'start' }, 599, new Error('not due')],
  ['activated schedules the revocation at the end', grant('activating', { startsAt: at(0), expiresAt: at(3600) }), { type: 'activated' }, 2, 'active',
    (_g, e) => expect(e).toEqual(['schedule:revoke'])],
  ['activated after the end goes straight to revoking', grant('activating', { startsAt: at(0), expiresAt: at(3600) }), { type: 'activated' }, 3600, 'revoking'],
  ['activation failure cleans up', grant('activating', { startsAt: at(0), expiresAt: at(3600) }), { type: 'activation_failed', error: 'boom' }, 1, 'revoking',
    (g) => expect(g.endReason).toBe('activation failed: boom')],
  ['a refused activation ends failed: nothing to revoke, no alert', grant('activating', { startsAt: at(0), expiresAt: at(3600) }),
    { type: 'activation_refused', error: 'role "x" is not a Timebox JIT account' }, 1, 'failed',
    (g, e) => { expect(g.endReason).toBe('activation refused by the target: role "x" is not a Timebox JIT account'); expect(e).toEqual(['unschedule:revoke']); }],
  ['only an activating grant can be refused', active(), { type: 'activation_refused', error: 'x' }, 1, new Error('cannot refuse activation of a active')],
  ['a failed grant cannot be revoked', grant('failed'), { type: 'revoke', reason: 'x' }, 1, new Error('cannot revoke a grant that is failed')],
  ['a failed grant cannot be approved again', grant('failed'), { type: 'approve' }, 1, new Error('cannot approve')],
  ['expire at the end', active(), { type: 'expire' }, 3600, 'revoking', (g) => expect(g.endReason).toBe('expired')],
  ['expire before the end is refused', active(), { type: 'expire' }, 3599, new Error('not reached')],
  ['manual revoke', active(), { type: 'revoke', reason: 'done' }, 5, 'revoking', (g) => expect(g.endReason).toBe('done')],
  ['revoke while revoking is a no-op', grant('revoking'), { type: 'revoke', reason: 'again' }, 5, 'revoking'],
  ['revoke of a revoked grant is refused', grant('revoked'), { type: 'revoke', reason: 'x' }, 5, new Error('cannot revoke')],
  ['extend moves the end and the scheduled revocation', active(), { type: 'extend', seconds: 1800 }, 100, 'active',
    (g, e) => { expect(g.expiresAt).toEqual(at(5400)); expect(e).toEqual(['schedule:revoke']); }],
  ['extend of a revoking grant is refused', grant('revoking'), { type: 'extend', seconds: 60 }, 0, new Error('only an active grant')],
  ['revoked after verify', grant('revoking'), { type: 'revoked' }, 5, 'revoked', (_g, e) => expect(e).toEqual(['unschedule:revoke', 'unschedule:expiry_warning'])],
  ['revoked from revoke_failed', grant('revoke_failed', { revokeAttempts: 5 }), { type: 'revoked' }, 5, 'revoked'],
  ['first transient failure backs off', grant('revoking'), { type: 'revoke_attempt_failed', error: 'down', retryable: true }, 0, 'revoking',
    (g) => expect(g.revokeAttempts).toBe(1)],
  ['Nth failure marks revoke_failed and alerts', grant('revoking', { revokeAttempts: 2 }), { type: 'revoke_attempt_failed', error: 'down', retryable: true }, 0, 'revoke_failed',
    (g, e) => { expect(g.revokeAttempts).toBe(3); expect(e).toEqual(['alert', 'schedule:revoke']); }],
  ['a permanent failure alerts at once', grant('revoking'), { type: 'revoke_attempt_failed', error: 'denied', retryable: false }, 0, 'revoke_failed'],
  ['revoke_failed keeps retrying slowly, no second alert', grant('revoke_failed', { revokeAttempts: 3 }), { type: 'revoke_attempt_failed', error: 'down', retryable: true }, 0, 'revoke_failed',
    (_g, e) => expect(e).toEqual(['schedule:revoke'])],
];

describe('grant lifecycle transitions', () => {
  it.each(table)('%s', (_name, from, event, nowS, to, check) => {
    const r = transition(from, event, at(nowS), opts);
    if (to instanceof Error) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(new RegExp(to.message));
      return;
    }
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.grant.state).toBe(to);
    check?.(r.grant, r.effects.map((e) => (e.type === 'alert' ? 'alert' : `${e.type}:${e.work}`)));
  });

  it('schedules retries with growing, jittered, bounded delays', () => {
    const clock = fakeClock(T0);
    let g = grant('revoking');
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = transition(g, { type: 'revoke_attempt_failed', error: 'x', retryable: true }, clock.now(), opts);
      if (!r.ok) throw new Error(r.error);
      const s = r.effects.find((e) => e.type === 'schedule');
      delays.push(s && s.type === 'schedule' ? s.at.getTime() - clock.now().getTime() : -1);
      g = r.grant;
    }
    expect(delays).toEqual([750, 1500, 600_000, 600_000]);
  });
});

describe('backoff', () => {
  it('is never zero and never above the ceiling', () => {
    for (let attempt = 1; attempt < 8; attempt++) {
      const lo = backoffDelay(defaultRetryPolicy, attempt, () => 0);
      const hi = backoffDelay(defaultRetryPolicy, attempt, () => 0.999999);
      expect(lo).toBeGreaterThan(0);
      expect(hi).toBeLessThanOrEqual(defaultRetryPolicy.maxMs);
      expect(hi).toBeGreaterThanOrEqual(lo);
    }
  });
});
