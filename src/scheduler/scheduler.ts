/**
 * Runs due work from the database. One in-process timer is aimed at the next due time (nothing
 * per grant in memory), a periodic sweep catches work scheduled by other processes and lapsed
 * leases, and claimed items run with bounded concurrency. Kinds with a batch handler run the items
 * of one claim together (a burst of expiries: one batch, one commit).
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { WorkKind } from '../core/lifecycle.js';
import { backoffDelay, type RetryPolicy } from '../core/retry.js';
import type { Database } from '../store/schema.js';
import {
  claimDueWork,
  claimDueWorkAndNext,
  claimWorkFor,
  completeWork,
  deferWork,
  nextDueAt,
  type WorkItem,
} from './work-queue.js';

/**
 * `recorded`: the handler already finished the item (and gave back its account lease) in the
 * transaction that completed its work (`finishWork`), so the scheduler writes nothing more.
 */
export type WorkOutcome = { type: 'done'; recorded?: boolean } | { type: 'defer'; at: Date; error?: string };
export type WorkHandler = (item: WorkItem) => Promise<WorkOutcome>;
/** Runs several items of one kind together; one outcome per item, in order. */
export type BatchWorkHandler = (items: WorkItem[]) => Promise<WorkOutcome[]>;

export interface SchedulerOptions {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  workerId: string;
  handlers: Record<WorkKind, WorkHandler>;
  /** Used when one claim brings several items of the kind. */
  batchHandlers?: Partial<Record<WorkKind, BatchWorkHandler>>;
  /** Items per batch at most (default 32): a batch is one transaction, held while it is written. */
  batchSize?: number;
  retry: RetryPolicy;
  /** Items in flight at once in this process. */
  maxInFlight?: number;
  sweepMs?: number;
  leaseMs?: number;
}

export interface Scheduler {
  start(): void;
  /**
   * Look again now: new work was just scheduled. With its due time, nothing happens when the timer
   * is already aimed no later (it will find the work then).
   */
  poke(dueAt?: Date): void;
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
  const batchSize = opts.batchSize ?? 32;
  const { db, clock, log } = opts;

  let timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires, in the clock's time; null while none is armed. */
  let timerAt: number | null = null;
  let stopped = true;
  let claiming = false;
  let again = false;
  const inFlight = new Set<Promise<void>>();
  /** Items in flight (a batch counts each of its items). */
  let busy = 0;
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

  function executeBatch(items: WorkItem[], handler: BatchWorkHandler): Promise<void> {
    const keys = items.map((item) => keyOf(item.grantId, item.kind));
    const p = executeItems(items, handler).finally(() => {
      for (const key of keys) if (running.get(key) === p) running.delete(key);
    });
    for (const key of keys) running.set(key, p);
    return p;
  }

  /** A bug or an unexpected store error: keep the work, back off, never drop it. */
  function unexpected(item: WorkItem, err: unknown): WorkOutcome {
    const at = new Date(clock.now().getTime() + backoffDelay(opts.retry, item.attempts));
    log.error({ err, work: item.id, kind: item.kind, grant: item.grantId }, 'scheduled work failed unexpectedly');
    return { type: 'defer', at, error: err instanceof Error ? err.message : String(err) };
  }

  async function executeItems(items: WorkItem[], handler: BatchWorkHandler): Promise<void> {
    let outcomes: WorkOutcome[];
    try {
      outcomes = await handler(items);
    } catch (err) {
      outcomes = items.map((item) => unexpected(item, err));
    }
    await Promise.all(items.map((item, i) => record(item, outcomes[i] ?? unexpected(item, new Error('no outcome for this item')))));
  }

  async function executeItem(item: WorkItem): Promise<void> {
    let outcome: WorkOutcome;
    try {
      outcome = await opts.handlers[item.kind](item);
    } catch (err) {
      outcome = unexpected(item, err);
    }
    await record(item, outcome);
  }

  async function record(item: WorkItem, outcome: WorkOutcome): Promise<void> {
    try {
      if (outcome.type === 'done') {
        if (!outcome.recorded) await completeWork(db, item);
      } else {
        await deferWork(db, item, outcome.at, outcome.error ?? null);
        // The timer may be aimed later than this item's new due time.
        poke();
      }
    } catch (err) {
      // The lease lapses and another claim picks it up.
      log.error({ err, work: item.id }, 'could not record the outcome of scheduled work');
    }
  }

  /** The last claim took as many items as there was room for: more may be due already. */
  let saturated = false;

  function track(p: Promise<void>, items: number) {
    inFlight.add(p);
    busy += items;
    void p.finally(() => {
      inFlight.delete(p);
      busy -= items;
      // Otherwise the timer is already aimed at the next due item: a claim now would find nothing.
      if (!stopped && saturated) poke();
    });
  }

  let claimRoundDone: Promise<unknown> = Promise.resolve();

  /**
   * What the last claim of this loop said of the next due time. Anything scheduled or moved by
   * this process since then pokes, which runs another claim before the timer is aimed.
   */
  let afterClaim: { next: Date | null } | null = null;

  async function claimRound(): Promise<number> {
    afterClaim = null;
    const room = maxInFlight - busy;
    if (room <= 0) {
      saturated = true;
      return 0;
    }
    const claim = claimDueWorkAndNext(db, { workerId: opts.workerId, now: clock.now(), limit: room, leaseMs });
    claimRoundDone = claim.catch(() => undefined);
    const { items, nextDueAt: next } = await claim;
    afterClaim = { next };
    saturated = items.length >= room;
    for (const [p, n] of dispatch(items)) track(p, n);
    return items.length;
  }

  /** Starts the claimed items: one by one, or in batches for kinds that have a batch handler. */
  function dispatch(items: WorkItem[]): Array<[Promise<void>, number]> {
    const started: Array<[Promise<void>, number]> = [];
    const batches = new Map<BatchWorkHandler, WorkItem[]>();
    for (const item of items) {
      const batch = opts.batchHandlers?.[item.kind];
      if (batch) batches.set(batch, [...(batches.get(batch) ?? []), item]);
      else started.push([execute(item), 1]);
    }
    for (const [handler, list] of batches) {
      for (let i = 0; i < list.length; i += batchSize) {
        const chunk = list.slice(i, i + batchSize);
        started.push([chunk.length === 1 ? execute(chunk[0]!) : executeBatch(chunk, handler), chunk.length]);
      }
    }
    return started;
  }

  async function arm() {
    if (stopped) return;
    let delay = sweepMs;
    // Full: every run that ends pokes, so asking for the next due time now would only find what
    // is already due and spin (on PGlite's one connection, in the way of everything else).
    if (busy >= maxInFlight) {
      saturated = true;
      setTimer(sweepMs);
      return;
    }
    try {
      const next = afterClaim ? afterClaim.next : await nextDueAt(db, clock.now());
      if (next) delay = Math.max(0, Math.min(sweepMs, next.getTime() - clock.now().getTime()));
    } catch (err) {
      log.warn({ err }, 'scheduler could not read the next due time; retrying at the next sweep');
    }
    if (stopped) return;
    setTimer(delay);
  }

  function setTimer(delay: number) {
    if (timer) clearTimeout(timer);
    timerAt = clock.now().getTime() + delay;
    timer = setTimeout(() => {
      timerAt = null;
      poke();
    }, delay);
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
      if (!stopped) setTimer(sweepMs);
    } finally {
      claiming = false;
    }
  }

  function poke(dueAt?: Date) {
    if (stopped) return;
    if (dueAt && !claiming && timerAt !== null && timerAt <= dueAt.getTime()) return;
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
      busy++;
      try {
        await p;
      } finally {
        inFlight.delete(p);
        busy--;
        if (!stopped && saturated) poke();
      }
      return true;
    },
    async drain() {
      let total = 0;
      for (;;) {
        const items = await claimDueWork(db, { workerId: opts.workerId, now: clock.now(), limit: maxInFlight, leaseMs });
        if (items.length === 0) break;
        total += items.length;
        await Promise.all(dispatch(items).map(([p]) => p));
      }
      return total;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      timerAt = null;
      await Promise.allSettled([...inFlight]);
    },
  };
}
