/**
 * Converges the host to the local schedule. One timer is aimed at the next moment anything is due
 * (an activation, an end, a retry) and capped, so a wall-clock jump is noticed within `maxSleepMs`;
 * there are no per-grant timers. Every pass looks at every unfinished grant, so an end that was
 * due while the agent was down is enforced on the first pass after start. The server is never
 * needed: desired states only add grants, move their times or revoke them.
 */
import { classifyTargetError, invalid } from '../core/errors.js';
import { backoffDelay, defaultRetryPolicy, type RetryPolicy } from '../core/retry.js';
import { NameError } from '../agent-wire/names.js';
import { checkDrift, isWatched, type Unrepaired } from './drift-check.js';
import { endGrant } from './grant-end.js';
import { activate, admit, provision, type StepContext } from './grant-steps.js';
import { parseGrantSpec, type DesiredState } from '../agent-wire/protocol.js';
import { activeFrom, effectiveEnd, isTerminal, newScheduledGrant, type ScheduledGrant } from './schedule.js';

export interface EnforcerOptions extends StepContext {
  /** Longest sleep between passes (default 30 s): bounds the effect of clock jumps and suspend. */
  maxSleepMs?: number;
  retry?: RetryPolicy;
  /** How often the host is checked for drift from the schedule (default 5 min; drift-check.ts). */
  driftCheckMs?: number;
  /** How long after its end a grant is still checked (default 7 days); kept in the schedule until then. */
  driftWatchMs?: number;
}

export const DEFAULT_DRIFT_CHECK_MS = 5 * 60_000;
export const DEFAULT_DRIFT_WATCH_MS = 7 * 86_400_000;

/** Failed steps retry quickly at first and at most every minute: ends must not wait long. */
const agentRetry: RetryPolicy = { ...defaultRetryPolicy, baseMs: 1_000, maxMs: 60_000, slowRetryMs: 60_000, maxAttempts: 1_000 };

export class Enforcer {
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** The timer runs only between start() and stop(); passes can also be driven directly (tests). */
  private timerOn = false;
  private stopped = false;
  private readonly rejectedSeen = new Set<string>();
  private readonly maxSleepMs: number;
  private readonly retry: RetryPolicy;
  private driftTimer: NodeJS.Timeout | null = null;
  private readonly driftCheckMs: number;
  private readonly driftWatchMs: number;
  private readonly unrepaired: Unrepaired = new Map();

  constructor(private readonly ctx: EnforcerOptions) {
    this.maxSleepMs = ctx.maxSleepMs ?? 30_000;
    this.driftCheckMs = ctx.driftCheckMs ?? DEFAULT_DRIFT_CHECK_MS;
    this.driftWatchMs = ctx.driftWatchMs ?? DEFAULT_DRIFT_WATCH_MS;
    this.retry = ctx.retry ?? agentRetry;
    this.ctx = { ...ctx, passwords: this.passwords };
  }

  /** The schedule must be loaded; runs a pass at once (overdue ends first) and arms the timer. */
  async start(): Promise<void> {
    this.stopped = false;
    this.timerOn = true;
    await this.converge();
    // Also at start: whatever changed on the host while the agent was down is seen at once.
    await this.checkDrift();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timerOn = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.driftTimer) clearTimeout(this.driftTimer);
    this.driftTimer = null;
    await this.chain.catch(() => undefined);
  }

  /** Runs `fn` after everything queued before it: the schedule has one writer at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * Server-chosen passwords live here only (never in the schedule): taken from the desired state,
   * dropped once set on the account. After a restart they come again with the first desired state.
   */
  private readonly passwords = new Map<string, string>();

  /** Passwords for known grants still waiting for one; true when any arrived. */
  private harvestPasswords(ds: DesiredState): boolean {
    let any = false;
    for (const raw of ds.grants) {
      const parsed = parseGrantSpec(raw);
      if (!parsed.ok || parsed.grant.password === undefined) continue;
      const g = this.ctx.store.get(parsed.grant.grantId);
      if (!g || isTerminal(g) || g.passwordSet || !g.spec.serverPassword) continue;
      if (this.passwords.get(g.spec.grantId) !== parsed.grant.password) any = true;
      this.passwords.set(g.spec.grantId, parsed.grant.password);
      // Waiting for it was a retry: try again now.
      if (g.retryAt) g.retryAt = null;
    }
    return any;
  }

  applyDesiredState(ds: DesiredState): Promise<void> {
    return this.serial(async () => {
      const { store, journal, clock } = this.ctx;
      if (ds.version <= store.desiredVersion) {
        // Nothing new, but a restarted agent re-reads the current state for passwords it lost.
        if (this.harvestPasswords(ds)) await this.pass();
        return;
      }
      const listed = new Set<string>();
      for (const raw of ds.grants) {
        const parsed = parseGrantSpec(raw);
        if (!parsed.ok) {
          // Not counted as listed: a known grant the server now describes wrongly is ended (fail closed).
          const key = `${parsed.grantId}:${parsed.error}`;
          if (!this.rejectedSeen.has(key)) {
            this.rejectedSeen.add(key);
            journal.record(parsed.grantId, 'rejected', `grant refused: ${parsed.error}`, { code: 'grant_refused' });
          }
          continue;
        }
        // The password stays in memory; the schedule on disk never holds it.
        const { password, ...spec } = parsed.grant;
        listed.add(spec.grantId);
        const existing = store.get(spec.grantId);
        if (!existing) {
          store.add(newScheduledGrant(spec));
          if (password !== undefined && spec.serverPassword) this.passwords.set(spec.grantId, password);
        } else if (
          !isTerminal(existing) &&
          existing.status !== 'ending' && // an end under way is never undone
          (existing.spec.startAt !== spec.startAt || existing.spec.endAt !== spec.endAt)
        ) {
          // Only the times of a known grant may change; a new end re-runs activation (sudo NOTAFTER, expiry).
          existing.spec.startAt = spec.startAt;
          existing.spec.endAt = spec.endAt;
          if (existing.status === 'active') existing.status = 'activating';
        }
      }
      for (const g of store.grants()) {
        if (!listed.has(g.spec.grantId) && !isTerminal(g) && !g.revokedAt) g.revokedAt = clock.now().toISOString();
      }
      // Ended grants stay for the drift check's watch window, listed or not.
      const now = clock.now().getTime();
      store.prune((g) => listed.has(g.spec.grantId) || isWatched(g, now, this.driftWatchMs));
      this.harvestPasswords(ds);
      for (const id of [...this.passwords.keys()]) {
        const g = store.get(id);
        if (!g || isTerminal(g) || g.passwordSet) this.passwords.delete(id);
      }
      store.desiredVersion = ds.version;
      await store.save();
      await this.pass();
    });
  }

  /**
   * One drift check now (also what its timer runs, every `driftCheckMs`): the host against the
   * schedule, after the grant steps queued before it.
   */
  checkDrift(): Promise<void> {
    return this.serial(async () => {
      if (this.driftTimer) clearTimeout(this.driftTimer);
      this.driftTimer = null;
      try {
        if (!this.stopped) await checkDrift(this.ctx, this.driftWatchMs, this.unrepaired);
      } finally {
        if (this.timerOn) {
          this.driftTimer = setTimeout(
            () => void this.checkDrift().catch((err) => this.ctx.log.error({ err }, 'drift check failed')),
            this.driftCheckMs,
          );
        }
      }
    });
  }

  /** One pass now (also what the timer runs). */
  converge(): Promise<void> {
    return this.serial(() => this.pass());
  }

  private async pass(): Promise<void> {
    const now = this.ctx.clock.now().getTime();
    // A retry pending from before the end must not delay the end itself.
    const due = this.ctx.store
      .grants()
      .filter((g) => !isTerminal(g) && (!g.retryAt || Date.parse(g.retryAt) <= now || (now >= effectiveEnd(g) && g.status !== 'ending')));
    // Ends first: taking access away is never delayed by someone else's activation.
    const phase = (g: ScheduledGrant) => (now >= effectiveEnd(g) ? 0 : now >= activeFrom(g) ? 1 : 2);
    for (const g of [...due].sort((a, b) => phase(a) - phase(b))) {
      if (this.stopped) break;
      await this.step(g, phase(g));
    }
    this.arm();
  }

  private async step(g: ScheduledGrant, phase: number): Promise<void> {
    const { ctx } = this;
    try {
      if (phase === 0) {
        await endGrant(ctx, g);
      } else {
        await admit(ctx, g);
        if (phase === 1 && g.status !== 'active') await activate(ctx, g);
        else if (phase === 2 && g.spec.kind === 'local-account') await provision(ctx, g);
      }
      if (g.failures || g.retryAt) {
        Object.assign(g, { failures: 0, retryAt: null, lastError: null });
        await ctx.store.save();
      }
    } catch (err) {
      await this.failed(g, phase, err);
    }
  }

  private async failed(g: ScheduledGrant, phase: number, err: unknown): Promise<void> {
    const { ctx } = this;
    const e = err instanceof NameError ? invalid(err.message) : classifyTargetError(err);
    const refusal = e.errorClass !== 'transient';
    const id = g.spec.grantId;
    if (refusal && !g.admitted && g.status === 'pending') {
      Object.assign(g, { status: 'rejected', lastError: e.message, retryAt: null });
      await ctx.store.save();
      ctx.journal.record(id, 'rejected', `grant refused, nothing applied: ${e.message}`, { code: 'grant_refused' });
      return;
    }
    if (refusal && phase !== 0 && !g.revokedAt) {
      // Fail closed: a grant that cannot be applied as specified is ended, not left half-applied.
      g.revokedAt = ctx.clock.now().toISOString();
      Object.assign(g, { lastError: e.message, retryAt: null });
      await ctx.store.save();
      ctx.journal.record(id, 'error', `activation refused, ending the grant: ${e.message}`, { idSuffix: 'activation', code: 'activation_refused' });
      return this.step(g, 0);
    }
    const failures = g.failures + 1;
    const delay = backoffDelay(this.retry, failures);
    const retryAt = new Date(ctx.clock.now().getTime() + delay).toISOString();
    if (g.lastError !== e.message) {
      ctx.journal.record(id, 'error', `${phase === 0 ? 'end' : 'step'} failed, retrying: ${e.message}`, {
        idSuffix: String(failures),
        code: phase === 0 ? 'end_failed' : 'step_failed',
      });
    }
    Object.assign(g, { failures, retryAt, lastError: e.message });
    await ctx.store.save();
  }

  /**
   * When a grant next needs a step: now if it is behind its timeline (an activation that a slow
   * provisioning ran past, an overdue end), else its next start or end. A pending retry delays
   * that, but never past the end unless the end itself is what is being retried.
   */
  private dueAt(g: ScheduledGrant, now: number): number {
    const end = effectiveEnd(g);
    const from = activeFrom(g);
    let work: number;
    if (now >= end) work = now;
    else if (now >= from) work = g.status === 'active' ? end : now;
    else work = !g.admitted || (g.spec.kind === 'local-account' && g.status !== 'provisioned') ? now : from;
    const retry = g.retryAt ? Date.parse(g.retryAt) : 0;
    if (retry > work) work = g.status === 'ending' ? retry : Math.min(retry, Math.max(end, work));
    return work;
  }

  /** The next moment anything is due (possibly now), or null when every grant is finished. */
  nextWake(): number | null {
    const now = this.ctx.clock.now().getTime();
    let next: number | null = null;
    for (const g of this.ctx.store.grants()) {
      if (isTerminal(g)) continue;
      const t = this.dueAt(g, now);
      if (next === null || t < next) next = t;
    }
    return next;
  }

  private arm(): void {
    if (!this.timerOn) return;
    if (this.timer) clearTimeout(this.timer);
    const next = this.nextWake();
    const now = this.ctx.clock.now().getTime();
    // A few ms late rather than early: the pass compares against the wall clock.
    const delay = next === null ? this.maxSleepMs : Math.min(this.maxSleepMs, Math.max(0, next - now) + 5);
    this.timer = setTimeout(() => void this.converge().catch((err) => this.ctx.log.error({ err }, 'enforcer pass failed')), delay);
  }
}
