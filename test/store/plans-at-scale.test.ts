/**
 * Every query of a grant's lifecycle finds its rows through an index, also as the generic plan
 * of a prepared statement. The store names each parameterised query (prepared-client.ts), and
 * PostgreSQL plans a named statement once for any parameters after a few runs: a condition
 * written as a parameter (`status <> $3`) cannot match a partial index's predicate
 * (`WHERE status <> 'deleted'`), so that plan reads the whole table, once per request, at a
 * million grants. Here every statement is forced to its generic plan, over a store holding
 * thousands of grants, accounts, people, queued items and audit events, and the lifecycles (and
 * whatever the server does meanwhile) must read no big table whole.
 *
 * The same holds for a restart and for the pages people open every day.
 *
 * Counted from PostgreSQL's own statistics: rows read by sequential scans, per table. The server
 * is closed before the second count, so every backend has reported what it did; the people to
 * request are read before the tables grow, so no read of the test's own counts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { requestActivated, seedActiveGrants, seedOperators, seededOperators } from '../../bench/seed.js';
import { call, join, setupTenant, type BenchTenant } from '../../bench/setup.js';
import { startTimebox, type Timebox } from '../../src/server/start.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';

const SEEDED = 20_000;
const METRICS_TOKEN = randomBytes(16).toString('hex');
const LIFECYCLES = 12;
/** Tables that grow with use: a scan of any of them costs in proportion to the store's age. */
const BIG = ['grants', 'jit_accounts', 'access_requests', 'scheduled_work', 'operators', 'audit_events', 'memberships'];
type Person = Awaited<ReturnType<typeof seededOperators>>[number];
let people: Person[];

let db: TestDatabase;
let tb: Timebox | undefined;
let dir: string;
let tenant: BenchTenant;
let env: Record<string, string>;
/** Sessions: the platform administrator's and a requester's. */
let adminToken: string;
let requesterToken: string;
/** The grants of the first test's lifecycles. */
const lifecycleGrants: string[] = [];

/** Rows read by sequential scans, per table. */
async function rowsScanned(): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const r = await client.query<{ relname: string; seq_tup_read: string }>(`SELECT relname, seq_tup_read FROM pg_stat_user_tables`);
    return new Map(r.rows.map((x) => [x.relname, Number(x.seq_tup_read)]));
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  db = await createTestDatabase(inject('pgAdminUrl'));
  // Every connection Timebox opens plans each named statement generically, as PostgreSQL may
  // choose to after five runs.
  const admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(db.name)} SET plan_cache_mode = force_generic_plan`);
  await admin.end();
  dir = await mkdtemp(path.join(tmpdir(), 'timebox-plans-'));
  env = {
    DATABASE_URL: db.url,
    TIMEBOX_DATA_DIR: dir,
    PORT: '0',
    HOST: '127.0.0.1',
    TIMEBOX_LOG_LEVEL: process.env.TIMEBOX_TEST_LOG ?? 'silent',
    TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true',
    TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
    TIMEBOX_OUTBOUND_ALLOW: 'loopback',
    TIMEBOX_METRICS_TOKEN: METRICS_TOKEN,
  };
  tb = await startTimebox({ env });
  tenant = await setupTenant(tb.url, tb.bootstrap, { maxDurationSeconds: 3600 });
  adminToken = (await call<{ token: string }>(tb.url, 'POST', '/api/v1/auth/login', null, tb.bootstrap)).token;
  requesterToken = (await join(tb.url, adminToken, tenant.slug, 'everyday@plans.invalid', ['requester'])).token;
  await seedOperators(tb.store.db, { ...tenant, tag: 'new' }, 1, LIFECYCLES);
  people = await seededOperators(tb.store.db, { ...tenant, tag: 'new' }, LIFECYCLES);
  await seedActiveGrants(tb.store.db, { ...tenant, tag: 'old', count: SEEDED, expiresFrom: new Date(Date.now() + 86_400_000), spanMs: 3_600_000, durationSeconds: 3600 });
  // History: most grants a store holds have ended.
  await seedActiveGrants(tb.store.db, { ...tenant, tag: 'past', count: 2 * SEEDED, expiresFrom: new Date(Date.now() + 86_400_000), spanMs: 3_600_000, durationSeconds: 3600 });
  await sql`
    WITH ended AS (
      UPDATE grants g SET state = 'revoked', end_reason = 'expired', revoked_at = now()
      FROM jit_accounts j WHERE j.id = g.jit_account_id AND j.username LIKE 'bpast\_%'
      RETURNING g.id
    )
    DELETE FROM scheduled_work WHERE grant_id IN (SELECT id FROM ended)`.execute(tb.store.db);
  await sql`
    INSERT INTO audit_events (id, at, tenant_id, actor_type, action, subject_type, subject_id)
    SELECT gen_random_uuid(), now(), ${tenant.tenantId}::uuid, 'system', 'bench.seeded', 'grant', i::text
    FROM generate_series(1, ${SEEDED}::int) AS i`.execute(tb.store.db);
  while ((await tb.audit.sealer.sealNow()).sealed > 0);
  // As autovacuum leaves a store: statistics, and the visibility map index-only scans need.
  await sql`VACUUM ANALYZE`.execute(tb.store.db);
}, 180_000);

afterAll(async () => {
  await tb?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it(`request, activation, expiry and revocation read no big table whole, with ${SEEDED.toLocaleString('en-US')} grants stored and generic plans`, async () => {
  const server = tb!;
  const before = await rowsScanned();
  // A burst ending in the same instant: revoked in batches, the path one expiry alone skips.
  const burstAt = new Date(Date.now() + 1500);
  await seedActiveGrants(server.store.db, { ...tenant, tag: 'burst', count: 40, expiresFrom: burstAt, spanMs: 0, durationSeconds: 3600 });
  // Their ids as the seeding derives them (reading them back would scan).
  const burst = (await sql<{ id: string }>`SELECT md5('burst' || ':grant:' || i::text)::uuid AS id FROM generate_series(1, 40) AS i`.execute(server.store.db)).rows.map((r) => r.id);
  const ids: string[] = [...burst];
  for (const who of people) {
    const grant = await requestActivated(server, tenant, who, { durationSeconds: 1, reason: 'plans at scale' });
    ids.push(grant.id);
    lifecycleGrants.push(grant.id);
  }
  // The scheduler expires and revokes them on the real clock.
  for (;;) {
    const r = await sql<{ n: string }>`SELECT count(*) AS n FROM grants WHERE id = ANY(${ids}::uuid[]) AND state = 'revoked'`.execute(server.store.db);
    if (Number(r.rows[0]!.n) === ids.length) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await server.close();
  tb = undefined;
  const after = await rowsScanned();
  // A few rows may be read by scans of a small table elsewhere; a table read whole is SEEDED rows.
  const scanned = Object.fromEntries(BIG.map((t) => [t, (after.get(t) ?? 0) - (before.get(t) ?? 0)] as const).filter(([, n]) => n >= SEEDED / 2));
  expect(scanned).toEqual({});
}, 120_000);

it('a restart, and the pages people open every day, read no big table whole', async () => {
  const before = await rowsScanned();
  const server = await startTimebox({ env });
  try {
    const T = `/api/v1/tenants/${tenant.slug}`;
    const pages: Array<[string, string]> = [
      [adminToken, `${T}/grants?limit=20`],
      [adminToken, `${T}/grants?state=active&limit=20`],
      [adminToken, `${T}/grants/${lifecycleGrants[0]!}`],
      [adminToken, `${T}/approvals`],
      [adminToken, `${T}/audit?limit=50`],
      [adminToken, `${T}/audit?action=grant.activated&limit=50`],
      [adminToken, `${T}/reviews`],
      [adminToken, `${T}/agents`],
      [adminToken, `${T}/gateway-sessions`],
      [adminToken, `${T}/notifications`],
      [adminToken, `${T}/jit-accounts?limit=20`],
      // Seeded ids are md5 values, not RFC 4122 v4: any id PostgreSQL stores is shown.
      [adminToken, `${T}/members?limit=20`],
      [adminToken, `${T}/alerts`],
      [adminToken, `${T}/targets`],
      [adminToken, `${T}/policies`],
      [adminToken, '/api/v1/me'],
      [requesterToken, `${T}/grants?limit=20`],
      [requesterToken, `${T}/grants?state=active&limit=20`],
      // A scrape every 15 s: grants by state, overdue revocations.
      [METRICS_TOKEN, '/metrics'],
    ];
    for (const [token, page] of pages) {
      const res = await fetch(new URL(page, server.url), { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, `${page}: ${await res.clone().text()}`).toBe(200);
      await res.arrayBuffer();
    }
  } finally {
    await server.close();
  }
  const after = await rowsScanned();
  const scanned = Object.fromEntries(BIG.map((t) => [t, (after.get(t) ?? 0) - (before.get(t) ?? 0)] as const).filter(([, n]) => n >= SEEDED / 2));
  expect(scanned).toEqual({});
}, 120_000);
