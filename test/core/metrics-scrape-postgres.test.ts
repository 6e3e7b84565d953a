/**
 * The scrape-time queries on PostgreSQL are bounded: while another session holds a lock that
 * would make them wait (an ACCESS EXCLUSIVE lock on grants), a scrape still answers within its
 * deadline, with the database figures unknown (NaN, never a false 0) and timebox_metrics_database_ok 0, and the
 * statement timeout has ended the waiting query in the database too.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { openStore, type Store } from '../../src/store/db.js';
import { systemClock } from '../../src/core/clock.js';
import { createMetrics } from '../../src/metrics/metrics.js';

let database: TestDatabase;
let store: Store;

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  store = await openStore({ databaseUrl: database.url });
});
afterAll(async () => {
  await store?.close();
  await database?.drop();
});

const line = (body: string, name: string) => body.split('\n').find((l) => l.startsWith(`${name} `));

it('a scrape answers within its deadline while the grants table is locked, and the database stops the query', async () => {
  const metrics = createMetrics({ db: store.db, clock: systemClock, log: pino({ level: 'silent' }), statementTimeout: true, scrapeTimeoutMs: 500 });
  let { body } = await metrics.scrape();
  expect(line(body, 'timebox_metrics_database_ok')).toBe('timebox_metrics_database_ok 1');
  expect(line(body, 'timebox_overdue_revocations')).toBe('timebox_overdue_revocations 0');

  const locker = new pg.Client({ connectionString: database.url });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE grants IN ACCESS EXCLUSIVE MODE');
    const t0 = performance.now();
    ({ body } = await metrics.scrape());
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(line(body, 'timebox_metrics_database_ok')).toBe('timebox_metrics_database_ok 0');
    // Unknown, not a reassuring 0; and no stale per-state series.
    // (prom-client writes "Nan"; Prometheus reads NaN in any case.)
    expect(line(body, 'timebox_overdue_revocations')).toMatch(/^timebox_overdue_revocations nan$/i);
    expect(body).not.toMatch(/^timebox_grants\{/m);
    // Process metrics are still there.
    expect(line(body, 'process_cpu_user_seconds_total')).toBeDefined();
    // Nothing of the scrape is left waiting in the database.
    const waiting = await locker.query("select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%from \"grants\"%'");
    expect(waiting.rows[0].n).toBe(0);
  } finally {
    await locker.query('ROLLBACK');
    await locker.end();
  }
  ({ body } = await metrics.scrape());
  expect(line(body, 'timebox_metrics_database_ok')).toBe('timebox_metrics_database_ok 1');
});
