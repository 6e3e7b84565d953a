/**
 * The server's Prometheus metrics. Events (activations, revocations, failures, HTTP requests)
 * are observed where they happen, in this process; the state of the shared database (grants by
 * state, overdue revocations, scheduler, outbox and SIEM backlog, connected agents) is read at scrape
 * time with one bounded query each. One registry per server, never the global one, so several
 * servers can live in one process (tests) without mixing their figures.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import type { Database } from '../store/schema.js';
import { readScrapeSnapshotWithin } from './scrape-queries.js';

/** What the use cases report; the composition root passes a real one, tests may pass none. */
export interface MetricsRecorder {
  /** A grant became active, `seconds` after its activation started. */
  activated(targetKind: string, seconds: number): void;
  /** A revocation was verified; `expiryLagSeconds` is null when the grant was ended early. */
  revoked(targetKind: string, expiryLagSeconds: number | null): void;
  /** One revocation attempt failed (it is always tried again, later and later). */
  revokeFailed(targetKind: string, errorClass: string): void;
  /** A revocation attempt after a failed one started. */
  revokeRetried(targetKind: string): void;
}

export const noMetrics: MetricsRecorder = { activated() {}, revoked() {}, revokeFailed() {}, revokeRetried() {} };

export interface Metrics {
  recorder: MetricsRecorder;
  /** Called once per HTTP response; `route` is the pattern (/api/v1/tenants/:tenant/...), never the raw URL. */
  observeRequest(method: string, route: string | undefined, statusCode: number, seconds: number): void;
  /** The text exposition of one scrape. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsOptions {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  /** PostgreSQL: also bound the scrape queries with a statement timeout in the database. */
  statementTimeout: boolean;
  scrapeTimeoutMs?: number;
  /**
   * The audit sealer's lag (now - oldest unsealed event), when the deployment has a sealer.
   * Absent: `timebox_audit_seal_lag_seconds` is not exported.
   */
  sealLagSeconds?: () => Promise<number | null>;
  /** Sealed audit events not yet delivered, per SIEM sink; absent when none is configured. */
  siemBacklog?: () => Promise<Record<string, number>>;
}

const statusClass = (code: number) => `${Math.floor(code / 100)}xx`;

export function createMetrics(opts: MetricsOptions): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const timeoutMs = opts.scrapeTimeoutMs ?? 2_000;
  collectDefaultMetrics({ register: registry });

  const expiryLag = new Histogram({
    name: 'timebox_expiry_lag_seconds',
    help: 'From a grant\'s end to its verified revocation (expiries only, not early ends).',
    labelNames: ['target_kind'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers,
  });
  const activationLatency = new Histogram({
    name: 'timebox_activation_latency_seconds',
    help: 'From the start of a grant\'s activation (approval or scheduled start) to active on its target.',
    labelNames: ['target_kind'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const revocations = new Counter({
    name: 'timebox_revocations_total',
    help: 'Revocations verified on their target.',
    labelNames: ['target_kind'],
    registers,
  });
  const revokeFailures = new Counter({
    name: 'timebox_revoke_failures_total',
    help: 'Failed revocation attempts, by error class.',
    labelNames: ['target_kind', 'error_class'],
    registers,
  });
  const revokeRetries = new Counter({
    name: 'timebox_revoke_retries_total',
    help: 'Revocation attempts made after a failed one.',
    labelNames: ['target_kind'],
    registers,
  });
  const httpDuration = new Histogram({
    name: 'timebox_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern and status class.',
    labelNames: ['method', 'route', 'status_class'],
    buckets: [0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });

  const grants = new Gauge({ name: 'timebox_grants', help: 'Grants not in a final state, by state and target kind (database-wide).', labelNames: ['state', 'target_kind'], registers });
  const overdue = new Gauge({ name: 'timebox_overdue_revocations', help: 'Grants whose end has passed and that are not yet verified revoked (database-wide).', registers });
  const queueDepth = new Gauge({ name: 'timebox_scheduler_queue_depth', help: 'Scheduled work that is due now, waiting or running (database-wide).', registers });
  const oldestDue = new Gauge({ name: 'timebox_scheduler_oldest_due_seconds', help: 'Age of the oldest due scheduled work item; 0 when none is due.', registers });
  const outbox = new Gauge({ name: 'timebox_outbox_backlog', help: 'Notifications (email, webhooks) waiting to be delivered (database-wide).', registers });
  const outboxOldest = new Gauge({ name: 'timebox_outbox_oldest_pending_seconds', help: 'Age of the oldest undelivered notification; 0 when none waits.', registers });
  const agents = new Gauge({ name: 'timebox_agents_connected', help: 'Enrolled agents that called in during the last 2 minutes (database-wide).', registers });
  const databaseOk = new Gauge({ name: 'timebox_metrics_database_ok', help: '1 when this scrape read the database figures, 0 when they are missing (timeout or error).', registers });
  const sealLag = opts.sealLagSeconds
    ? new Gauge({ name: 'timebox_audit_seal_lag_seconds', help: 'Age of the oldest audit event not yet sealed into its chain; 0 when all are sealed.', registers })
    : null;
  const siemBacklog = opts.siemBacklog
    ? new Gauge({ name: 'timebox_siem_backlog', help: 'Sealed audit events not yet delivered to each SIEM sink.', labelNames: ['sink'], registers })
    : null;
  const dbGauges = [grants, overdue, queueDepth, oldestDue, outbox, outboxOldest, agents];

  async function refreshDatabaseGauges() {
    for (const g of dbGauges) g.reset();
    try {
      const s = await readScrapeSnapshotWithin(opts.db, opts.clock.now(), { timeoutMs, statementTimeout: opts.statementTimeout });
      for (const row of s.grants) grants.set({ state: row.state, target_kind: row.targetKind }, row.count);
      overdue.set(s.overdueRevocations);
      queueDepth.set(s.schedulerDue);
      oldestDue.set(s.schedulerOldestDueSeconds);
      outbox.set(s.outboxPending);
      outboxOldest.set(s.outboxOldestPendingSeconds);
      agents.set(s.agentsConnected);
      databaseOk.set(1);
    } catch (err) {
      // Unknown beats stale or a false 0: NaN (labelled series left out) makes no threshold
      // alert fire, and the alert on timebox_metrics_database_ok fires instead.
      opts.log.warn({ err }, 'metrics: could not read the database figures');
      for (const g of [overdue, queueDepth, oldestDue, outbox, outboxOldest, agents]) g.set(Number.NaN);
      databaseOk.set(0);
    }
  }

  async function refreshSealLag() {
    if (!sealLag || !opts.sealLagSeconds) return;
    sealLag.reset();
    try {
      const lag = await opts.sealLagSeconds();
      if (lag !== null) sealLag.set(lag);
    } catch (err) {
      opts.log.warn({ err }, 'metrics: could not read the audit seal lag');
    }
  }

  async function refreshSiemBacklog() {
    if (!siemBacklog || !opts.siemBacklog) return;
    siemBacklog.reset();
    try {
      for (const [sink, n] of Object.entries(await opts.siemBacklog())) siemBacklog.set({ sink }, n);
    } catch (err) {
      opts.log.warn({ err }, 'metrics: could not read the SIEM backlog');
    }
  }

  let refreshing: Promise<unknown> | null = null;

  return {
    recorder: {
      activated(targetKind, seconds) {
        activationLatency.observe({ target_kind: targetKind }, Math.max(0, seconds));
      },
      revoked(targetKind, lag) {
        revocations.inc({ target_kind: targetKind });
        if (lag !== null) expiryLag.observe({ target_kind: targetKind }, Math.max(0, lag));
      },
      revokeFailed(targetKind, errorClass) {
        revokeFailures.inc({ target_kind: targetKind, error_class: errorClass });
      },
      revokeRetried(targetKind) {
        revokeRetries.inc({ target_kind: targetKind });
      },
    },
    observeRequest(method, route, statusCode, seconds) {
      httpDuration.observe({ method, route: route ?? 'unmatched', status_class: statusClass(statusCode) }, seconds);
    },
    async scrape() {
      // Scrapes that arrive together share one round of queries: a burst of scrapers (or a
      // slow database) never piles queries up on the store.
      refreshing ??= Promise.all([refreshDatabaseGauges(), refreshSealLag(), refreshSiemBacklog()]).finally(() => {
        refreshing = null;
      });
      await refreshing;
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
