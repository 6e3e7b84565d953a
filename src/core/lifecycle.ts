/**
 * The grant lifecycle as a pure state machine: (grant, event, now) -> (grant', effects).
 * No I/O here. The app layer persists the new grant with optimistic concurrency and then
 * carries out the effects (call the target, schedule work, raise alerts).
 */
import type { RetryPolicy } from './retry.js';
import { backoffDelay } from './retry.js';

export const grantStates = [
  'requested',
  'approved',
  'activating',
  'active',
  'revoking',
  'revoked',
  'revoke_failed',
  'denied',
  'cancelled',
  'expired',
  /** The target refused the activation before changing anything: nothing to take back. */
  'failed',
] as const;
export type GrantState = (typeof grantStates)[number];

/** States in which the target may hold (or be about to hold) the privilege. */
export const liveStates: readonly GrantState[] = ['activating', 'active', 'revoking', 'revoke_failed'];
/** States in which the privilege is wanted: counted as holders for overlapping grants. */
export const holdingStates: readonly GrantState[] = ['activating', 'active'];
export const finalStates: readonly GrantState[] = ['revoked', 'denied', 'cancelled', 'expired', 'failed'];

export interface GrantSnapshot {
  state: GrantState;
  durationSeconds: number;
  /** When the requester wants it to start; null = as soon as approved. */
  requestedStartAt: Date | null;
  /** A request still pending at this time expires. */
  pendingExpiresAt: Date | null;
  /** Set at activation: the clock starts then, not at request time. */
  startsAt: Date | null;
  expiresAt: Date | null;
  revokeAttempts: number;
  /** Why the grant ended or is ending (expired, revoked by X, activation failed...). */
  endReason: string | null;
}

export type GrantEvent =
  | { type: 'approve' }
  | { type: 'deny'; reason: string }
  | { type: 'cancel'; reason: string }
  | { type: 'pending_timeout' }
  | { type: 'start' }
  | { type: 'activated' }
  | { type: 'activation_failed'; error: string }
  /** The target refused the grant before touching anything (a foreign account, a missing role). */
  | { type: 'activation_refused'; error: string }
  | { type: 'expire' }
  | { type: 'revoke'; reason: string }
  | { type: 'extend'; seconds: number }
  | { type: 'revoked' }
  | { type: 'revoke_attempt_failed'; error: string; retryable: boolean };

/** 'expiry_warning' is not a state change: it only tells the owner that the end is near. */
export type WorkKind = 'activate' | 'revoke' | 'pending_timeout' | 'expiry_warning';

export type Effect =
  | { type: 'schedule'; work: WorkKind; at: Date }
  /** Remove pending scheduled work of this kind (e.g. the pending timeout once approved). */
  | { type: 'unschedule'; work: WorkKind }
  | { type: 'alert'; severity: 'warning' | 'critical'; message: string };

export type Transition =
  | { ok: true; grant: GrantSnapshot; effects: Effect[] }
  | { ok: false; error: string };

const fail = (error: string): Transition => ({ ok: false, error });

export interface LifecycleOptions {
  retry: RetryPolicy;
  random?: () => number;
}

function addSeconds(d: Date, s: number): Date {
  return new Date(d.getTime() + s * 1000);
}

/** Activation: the grant's span is fixed here, from now, so native expiry can be set on the target. */
function beginActivation(g: GrantSnapshot, now: Date): Transition {
  const startsAt = now;
  const expiresAt = addSeconds(now, g.durationSeconds);
  return {
    ok: true,
    grant: { ...g, state: 'activating', startsAt, expiresAt },
    effects: [{ type: 'schedule', work: 'activate', at: now }],
  };
}

function beginRevocation(g: GrantSnapshot, now: Date, reason: string): Transition {
  return {
    ok: true,
    grant: { ...g, state: 'revoking', endReason: g.endReason ?? reason },
    effects: [{ type: 'schedule', work: 'revoke', at: now }],
  };
}

export function transition(g: GrantSnapshot, e: GrantEvent, now: Date, opts: LifecycleOptions): Transition {
  const s = g.state;
  switch (e.type) {
    case 'approve': {
      if (s !== 'requested') return fail(`cannot approve a grant that is ${s}`);
      if (g.pendingExpiresAt && now >= g.pendingExpiresAt) return fail('the request expired before it was approved');
      const approved: GrantSnapshot = { ...g, state: 'approved' };
      const effects: Effect[] = [{ type: 'unschedule', work: 'pending_timeout' }];
      if (g.requestedStartAt && g.requestedStartAt > now) {
        effects.push({ type: 'schedule', work: 'activate', at: g.requestedStartAt });
        return { ok: true, grant: approved, effects };
      }
      const started = beginActivation(approved, now);
      if (!started.ok) return started;
      return { ok: true, grant: started.grant, effects: [...effects, ...started.effects] };
    }
    case 'deny':
      if (s !== 'requested') return fail(`cannot deny a grant that is ${s}`);
      return {
        ok: true,
        grant: { ...g, state: 'denied', endReason: e.reason },
        effects: [{ type: 'unschedule', work: 'pending_timeout' }],
      };
    case 'cancel':
      if (s === 'requested' || s === 'approved')
        return {
          ok: true,
          grant: { ...g, state: 'cancelled', endReason: e.reason },
          effects: [
            { type: 'unschedule', work: 'pending_timeout' },
            { type: 'unschedule', work: 'activate' },
          ],
        };
      // Cancelling something already granted must take the access away, not just hide it.
      if (s === 'activating' || s === 'active') return beginRevocation(g, now, e.reason);
      return fail(`cannot cancel a grant that is ${s}`);
    case 'pending_timeout':
      if (s !== 'requested') return fail(`a ${s} grant is not pending`);
      if (g.pendingExpiresAt && now < g.pendingExpiresAt) return fail('the request has not expired yet');
      return { ok: true, grant: { ...g, state: 'expired', endReason: 'request expired before approval' }, effects: [] };
    case 'start':
      if (s !== 'approved') return fail(`cannot start a grant that is ${s}`);
      if (g.requestedStartAt && now < g.requestedStartAt) return fail('the grant is not due to start yet');
      return beginActivation(g, now);
    case 'activated':
      if (s !== 'activating') return fail(`cannot mark a ${s} grant active`);
      if (!g.expiresAt) return fail('an activating grant must have an end time');
      if (now >= g.expiresAt) return beginRevocation(g, now, 'expired');
      return {
        ok: true,
        grant: { ...g, state: 'active' },
        effects: [{ type: 'schedule', work: 'revoke', at: g.expiresAt }],
      };
    case 'activation_failed':
      if (s !== 'activating') return fail(`cannot fail activation of a ${s} grant`);
      // Clean up whatever part of the grant reached the target.
      return beginRevocation(g, now, `activation failed: ${e.error}`);
    case 'activation_refused':
      if (s !== 'activating') return fail(`cannot refuse activation of a ${s} grant`);
      // Nothing reached the target: no revocation to run, no alert claiming a privilege may remain.
      return {
        ok: true,
        grant: { ...g, state: 'failed', endReason: `activation refused by the target: ${e.error}` },
        effects: [{ type: 'unschedule', work: 'revoke' }],
      };
    case 'expire':
      if (s !== 'active') return fail(`cannot expire a grant that is ${s}`);
      if (!g.expiresAt || now < g.expiresAt) return fail('the grant has not reached its end time');
      return beginRevocation(g, now, 'expired');
    case 'revoke':
      if (s === 'active' || s === 'activating') return beginRevocation(g, now, e.reason);
      if (s === 'revoking' || s === 'revoke_failed') return { ok: true, grant: g, effects: [] };
      return fail(`cannot revoke a grant that is ${s}`);
    case 'extend': {
      if (s !== 'active' || !g.expiresAt) return fail(`only an active grant can be extended (this one is ${s})`);
      if (!Number.isInteger(e.seconds) || e.seconds <= 0) return fail('an extension must add a positive number of seconds');
      const expiresAt = addSeconds(g.expiresAt, e.seconds);
      return { ok: true, grant: { ...g, expiresAt }, effects: [{ type: 'schedule', work: 'revoke', at: expiresAt }] };
    }
    case 'revoked':
      if (s !== 'revoking' && s !== 'revoke_failed') return fail(`cannot complete revocation of a ${s} grant`);
      return {
        ok: true,
        grant: { ...g, state: 'revoked' },
        effects: [
          { type: 'unschedule', work: 'revoke' },
          { type: 'unschedule', work: 'expiry_warning' },
        ],
      };
    case 'revoke_attempt_failed': {
      if (s !== 'revoking' && s !== 'revoke_failed') return fail(`a ${s} grant is not being revoked`);
      const attempts = g.revokeAttempts + 1;
      const delay = backoffDelay(opts.retry, attempts, opts.random);
      const at = new Date(now.getTime() + delay);
      const reachedLimit = attempts >= opts.retry.maxAttempts;
      const nonRetryable = !e.retryable;
      if (s === 'revoking' && (reachedLimit || nonRetryable)) {
        return {
          ok: true,
          grant: { ...g, state: 'revoke_failed', revokeAttempts: attempts },
          effects: [
            {
              type: 'alert',
              severity: 'critical',
              message: `revocation failed after ${attempts} attempt(s): ${e.error}; the privilege may still be present on the target, retrying slowly`,
            },
            { type: 'schedule', work: 'revoke', at: new Date(now.getTime() + opts.retry.slowRetryMs) },
          ],
        };
      }
      const next = s === 'revoke_failed' ? new Date(now.getTime() + opts.retry.slowRetryMs) : at;
      return {
        ok: true,
        grant: { ...g, revokeAttempts: attempts },
        effects: [{ type: 'schedule', work: 'revoke', at: next }],
      };
    }
  }
}
