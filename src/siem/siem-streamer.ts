/**
 * One loop per SIEM sink (one per deployment by a run lease): reads sealed events after the sink's
 * cursors, sends a bounded batch, and moves the cursors only once the collector took it — at least
 * once, in chain order per tenant; receivers dedupe on the event id. A failure backs off
 * exponentially with jitter and retries the same events, so an outage is caught up with nothing
 * lost; where the collector's acceptance proves less than keeping (syslog), the batch accepted
 * just before a failure is sent again too. It runs beside requests and the scheduler and holds no lock they take: a sink that is down
 * never delays a grant or a revocation.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { runLease } from '../app/run-lease.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../store/schema.js';
import { backoffMs } from './backoff.js';
import type { ExportedEvent } from './exported-event.js';
import { advanceCursors, readSealedAfter, sinkBacklog } from './sealed-reader.js';

export interface SiemSink {
  /** Names the cursor rows: keep it stable for a sink. */
  readonly name: string;
  /** For logs: kind and destination, never a token. */
  readonly describe: string;
  /** Resolves once the collector took every event; rejects otherwise (the batch is resent). */
  send(events: readonly ExportedEvent[]): Promise<void>;
  /**
   * The collector's acceptance shows only that it read the batch (syslog: its clean close), not
   * that it kept it: a collector going down just then may drop it. After a failure, the batch
   * accepted just before is sent again with the retry (receivers dedupe on the event id).
   */
  readonly acceptanceMayBeLost?: boolean;
}

/** How recent an accepted batch must be, at the next failure, to be sent again. */
const RESEND_WINDOW_MS = 60_000;

export interface SiemStreamerDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  workerId: string;
}

export interface SiemStreamerOptions {
  /** Events per delivery. */
  batchSize?: number;
  /** How often an idle sink looks for newly sealed events. */
  pollMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export interface SinkStats {
  sink: string;
  delivered: number;
  failures: number;
  /** Consecutive failures now (0 when the last attempt worked). */
  failing: number;
  lastError: string | null;
}

export interface SiemStreamer {
  start(): void;
  stop(): Promise<void>;
  stats(): SinkStats[];
  /** Sealed events not yet delivered, per sink. */
  backlog(): Promise<Record<string, number>>;
}

const ACQUIRE_EVERY_MS = 5_000;

export function createSiemStreamer(deps: SiemStreamerDeps, sinks: readonly SiemSink[], opts: SiemStreamerOptions = {}): SiemStreamer {
  const batchSize = opts.batchSize ?? 500;
  const pollMs = opts.pollMs ?? 1_000;
  const retryBaseMs = opts.retryBaseMs ?? 1_000;
  const retryMaxMs = opts.retryMaxMs ?? 300_000;
  const loops = sinks.map((sink) => sinkLoop(sink));
  return {
    start: () => loops.forEach((l) => l.start()),
    stop: async () => {
      await Promise.all(loops.map((l) => l.stop()));
    },
    stats: () => loops.map((l) => l.stats()),
    async backlog() {
      const out: Record<string, number> = {};
      for (const s of sinks) out[s.name] = await sinkBacklog(deps.db, s.name);
      return out;
    },
  };

  function sinkLoop(sink: SiemSink) {
    const lease = runLease(deps, `siem.${sink.name}`, { onePerProcess: true });
    const stats: SinkStats = { sink: sink.name, delivered: 0, failures: 0, failing: 0, lastError: null };
    let running = false;
    let holding = false;
    let timer: NodeJS.Timeout | null = null;
    let current: Promise<unknown> = Promise.resolve();
    let lastTry = 0;
    /** The last batch the collector accepted, and when (kept only for sinks whose acceptance may be lost). */
    let accepted: { events: readonly ExportedEvent[]; at: number } | null = null;
    /** Accepted events to send again before the next new ones: a failure followed their acceptance. */
    let resend: readonly ExportedEvent[] = [];

    /** One delivery; returns how long to wait before the next. */
    async function step(): Promise<number> {
      if (!holding) {
        // Another server streams to this sink: ask for the lease now and then.
        if (Date.now() - lastTry < ACQUIRE_EVERY_MS) return pollMs;
        lastTry = Date.now();
      }
      holding = holding ? await lease.keep() : await lease.acquire();
      if (!holding) return pollMs;
      const events = await readSealedAfter(deps.db, sink.name, batchSize);
      if (events.length === 0) return pollMs;
      try {
        // In front of the new events: per chain, still in chain order.
        await sink.send(resend.length > 0 ? [...resend, ...events] : events);
      } catch (err) {
        // The collector failed right after accepting a batch: it may have gone down holding it.
        if (accepted && resend.length === 0 && Date.now() - accepted.at < RESEND_WINDOW_MS) resend = accepted.events;
        accepted = null;
        stats.failures++;
        stats.failing++;
        stats.lastError = (err as Error).message;
        const wait = backoffMs(stats.failing, retryBaseMs, retryMaxMs);
        deps.log.warn({ sink: sink.describe, err: (err as Error).message, retryInMs: wait, events: events.length }, 'SIEM delivery failed; will resend');
        return wait;
      }
      await advanceCursors(deps.db, sink.name, events, deps.clock.now());
      resend = [];
      if (sink.acceptanceMayBeLost) accepted = { events, at: Date.now() };
      if (stats.failing > 0) deps.log.info({ sink: sink.describe }, 'SIEM sink delivering again');
      stats.failing = 0;
      stats.lastError = null;
      stats.delivered += events.length;
      // A full batch: more may be waiting (catching up after an outage).
      return events.length === batchSize ? 0 : pollMs;
    }

    function schedule(waitMs: number) {
      if (!running) return;
      timer = setTimeout(() => {
        current = step()
          .catch((err: unknown) => {
            // The database itself failed (read or cursor write): the batch is simply read again.
            deps.log.warn({ err, sink: sink.describe }, 'SIEM streaming step failed; retrying');
            return backoffMs(1, retryBaseMs, retryMaxMs);
          })
          .then(schedule);
      }, waitMs);
    }

    return {
      start() {
        if (running) return;
        running = true;
        schedule(0);
      },
      async stop() {
        running = false;
        if (timer) clearTimeout(timer);
        await current;
        if (holding) await lease.release().catch(() => {});
        holding = false;
      },
      stats: () => ({ ...stats }),
    };
  }
}
