/**
 * Runs due work from the database. One in-process timer is aimed at the next due time (nothing
 * per grant in memory), a periodic sweep catches work scheduled by other processes and lapsed
 * leases, and claimed items run with bounded concurrency.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { WorkKind } from '../core/lifecycle.js';
import { backoffDelay, type RetryPolicy } from '../core/retry.js';
import type { Database } from '../store/schema.js';
import {
  claimDueWork,
  claimWorkFor,
  completeWork,
  deferWork,
  nextDueAt,
  type WorkItem,
} from './work-queue.js';

export type WorkOutcome = { type: 'done' } | { type: 'defer'; at: Date; error?: string };
export type WorkHandler = (item: WorkItem) => Promise<WorkOutcome>;

export interface SchedulerOptions {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  workerId: string;
  handlers: Record<WorkKind, WorkHandler>;
  retry: RetryPolicy;
  /** Items in flight at once in this process. */
  maxInFlight?: number;
  sweepMs?: number;
  leaseMs?: number;
}

export interface Scheduler {
  start(): void;
  /** Look again now: new work was just scheduled. */
  poke(): void;
  /** Claim and run one grant's item now (inline, for an API call); false if not claimable. */
  runNow(grantId: string, kind: WorkKind): Promise<boolean>;
  /** Run everything due until nothing is left; for tests and benchmarks driving a fake clock. */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

export function createScheduler(opts: SchedulerOptions): Scheduler {
  const maxInFlight = opts.maxInFlight ?? 64;
  const sweepMs = opts.sweepMs ?? 5_000;
  const leaseMs = opts.leaseMs ?? 60_000;
  const { db, clock, log } = opts;

  let timer: NodeJS.Timeout | null = null;
  let stopped = true;
  let claiming = false;
  let again = false;
  const inFlight = new Set<Promise<void>>();
  /** The same items by grant and kind, so runNow can wait for one this process already runs. */
  const running = new Map<string, Promise<void>>();
  const keyOf = (grantId: string, kind: WorkKind) => `${grantId}:${kind}`;

  function execute(item: WorkItem): Promise<void> {
    const key = keyOf(item.grantId, item.kind);
    const p = executeItem(item).finally(() => {
      if (running.get(key) === p) running.delete(key);
    });
    running.set(key, p);
    return p;
  }

  async function executeItem(item: WorkItem): Promise<void> {
    let outcome: WorkOutcome;
    try {
      outcome = await opts.handlers[item.kind](item);
    } catch (err) {
      // A bug or an unexpected store error: keep the work, back off, never drop it.
      const at = new Date(clock.now().getTime() + backoffDelay(opts.retry, item.attempts));
      log.error({ err, work: item.id, kind: item.kind, grant: item.grantId }, 'scheduled work failed unexpectedly');
      outcome = { type: 'defer', at, error: err instanceof Error ? err.message : String(err) };
    }
    try {
      if (outcome.type === 'done') await completeWork(db, item);
      else await deferWork(db, item, outcome.at, outcome.error ?? null);
    } catch (err) {
      // The lease lapses and another claim picks it up.
      log.error({ err, work: item.id }, 'could not record the outcome of scheduled work');
    }
  }

  function track(p: Promise<void>) {
    inFlight.add(p);
    void p.finally(() => {
      inFlight.delete(p);
      if (!stopped) poke();
    });
  }

  let claimRoundDone: Promise<unknown> = Promise.resolve();

  async function claimRound(): Promise<number> {
    const room = maxInFlight - inFlight.size;
    if (room <= 0) return 0;
    const claim = claimDueWork(db, { workerId: opts.workerId, now: clock.now(), limit: room, leaseMs });
    claimRoundDone = claim.catch(() => undefined);
    const items = await claim;
    for (const item of items) track(execute(item));
    return items.length;
  }

  async function arm() {
    if (stopped) return;
    let delay = sweepMs;
    try {
      const next = await nextDueAt(db, clock.now());
      if (next) delay = Math.max(0, Math.min(sweepMs, next.getTime() - clock.now().getTime()));
    } catch (err) {
      log.warn({ err }, 'scheduler could not read the next due time; retrying at the next sweep');
    }
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => poke(), delay);
    timer.unref();
  }

  async function loop() {
    if (claiming) {
      again = true;
      return;
    }
    claiming = true;
    try {
      do {
        again = false;
        await claimRound();
      } while (again && !stopped);
      await arm();
    } catch (err) {
      log.warn({ err }, 'scheduler could not claim work; retrying at the next sweep');
      if (!stopped) {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => poke(), sweepMs);
        timer.unref();
      }
    } finally {
      claiming = false;
    }
  }

  function poke() {
    if (stopped) return;
    void loop();
  }

  return {
    start() {
      stopped = false;
      poke();
    },
    poke,
    async runNow(grantId, kind) {
      const already = running.get(keyOf(grantId, kind));
      if (already) {
        await already;
        return true;
      }
      const item = await claimWorkFor(db, { workerId: opts.workerId, grantId, kind, now: clock.now(), leaseMs });
      if (!item) {
        // Our own timer may have claimed it a moment ago: wait for that run instead.
        await claimRoundDone;
        const mine = running.get(keyOf(grantId, kind));
        if (!mine) return false;
        await mine;
        return true;
      }
      const p = execute(item);
      inFlight.add(p);
      try {
        await p;
      } finally {
        inFlight.delete(p);
      }
      return true;
    },
    async drain() {
      let total = 0;
      for (;;) {
        const items = await claimDueWork(db, { workerId: opts.workerId, now: clock.now(), limit: maxInFlight, leaseMs });
        if (items.length === 0) break;
        total += items.length;
        await Promise.all(items.map(execute));
      }
      return total;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await Promise.allSettled([...inFlight]);
    },
  };
}
