/**
 * kill -9 the server while grants are activating and while they are due: after a restart every
 * grant is finished properly, and the target holds no JIT role Timebox does not know about.
 * Real PostgreSQL for both the store and the target, real server processes.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, startPostgres, type PgCluster } from '../harness/postgres.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { preparePgTarget, type PgTarget } from '../support/pg-target.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';
import { addMember, signInFirstOwner, type ApiClient } from '../support/http.js';

/**
 * As many hung activations as the connector's pool has connections (4), no more: a request's own
 * checks on the target need a connection too, and with every one held by a hung activation a
 * late request fails its checks (target unreachable), which is another test's subject. With six,
 * the run depended on whether the last requests were checked before the first activations began.
 */
const N = 4;
let targetCluster: PgCluster;
let target: PgTarget;
let store: TestDatabase;
let storeDb: pg.Pool;
let env: Record<string, string>;
let dataDir = '';
let server: ChildServer | null = null;

/** Waits for a condition on the store, checked a few times a second, for at most `ms`. */
async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const states = async () =>
  (await storeDb.query<{ state: string; n: number }>('select state, count(*)::int as n from grants group by state')).rows.reduce<Record<string, number>>(
    (acc, r) => ({ ...acc, [r.state]: r.n }),
    {},
  );

async function timeboxRolesOnTarget(): Promise<Array<{ rolname: string; rolcanlogin: boolean; memberships: number }>> {
  const c = new pg.Client({ connectionString: targetCluster.urlFor(target.database) });
  await c.connect();
  try {
    const r = await c.query(`
      select r.rolname, r.rolcanlogin, (select count(*)::int from pg_auth_members m where m.member = r.oid) as memberships
      from pg_roles r where shobj_description(r.oid, 'pg_authid') like 'Timebox JIT account%' order by 1`);
    return r.rows;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  // The target lives on its own cluster: the test locks its role catalog to freeze activations.
  targetCluster = await startPostgres({ name: 'crash-target' });
  target = await preparePgTarget(targetCluster.adminUrl);
  store = await createTestDatabase(inject('pgAdminUrl'));
  storeDb = new pg.Pool({ connectionString: store.url, max: 2 });
  dataDir = await mkdtemp(path.join(tmpdir(), 'tb-crash-recovery-'));
  env = {
    DATABASE_URL: store.url,
    TIMEBOX_DATA_DIR: dataDir,
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
    TIMEBOX_SWEEP_MS: '500',
  };
});

afterAll(async () => {
  await server?.stop();
  await storeDb?.end();
  await store?.drop();
  await targetCluster?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('crash recovery', () => {
  const users: ApiClient[] = [];
  let targetId = '';

  it('finishes activations that were in flight when the server was killed', async () => {
    server = await startChildServer(env);
    const admin = await signInFirstOwner(server.url, server.bootstrap!);
    const added = await admin.post('/api/v1/tenants/default/targets', { name: 'pg', kind: 'postgres', config: target.config });
    expect(added.status).toBe(201);
    targetId = added.body.target.id;
    await admin.post('/api/v1/tenants/default/policies', {
      name: 'p', requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, reasonMinLength: 3,
    });
    for (let i = 0; i < N; i++) {
      const email = `crash${i}.${randomBytes(2).toString('hex')}@example.com`;
      users.push((await addMember(server.url, admin, 'default', email, ['requester'])).api);
    }

    // Hold the connector's per-account lock on the target: activations start, then hang there.
    const blocker = new pg.Client({ connectionString: targetCluster.urlFor(target.database) });
    await blocker.connect();
    for (let i = 0; i < N; i++) await blocker.query('select pg_advisory_lock(hashtext($1))', [`timebox:role:crash${i}_jit`]);
    // What each request answered (those held at the target never answer): said if one fails.
    const answers: unknown[] = users.map(() => 'no answer yet');
    const pending = users.map((u, i) =>
      u
        .post('/api/v1/tenants/default/requests', {
          targetId, entitlements: [target.readers], durationSeconds: 20, reason: 'crash test', accountName: `crash${i}_jit`,
        })
        .then((r) => (answers[i] = { status: r.status, body: r.body }))
        .catch((err: unknown) => (answers[i] = String(err))),
    );
    await until('all grants activating', async () => (await states()).activating === N).catch(async (err: Error) => {
      throw new Error(`${err.message}: grants ${JSON.stringify(await states())}, answers ${JSON.stringify(answers)}`);
    });
    await server.kill9();
    await Promise.all(pending);
    await blocker.end(); // releases the locks: the dead server's statements may still land now

    expect(await states()).toEqual({ activating: N });
    server = await startChildServer(env);
    await until('all grants active', async () => (await states()).active === N);
    const roles = await timeboxRolesOnTarget();
    const accounts = (await storeDb.query<{ username: string }>('select username from jit_accounts order by 1')).rows.map((r) => r.username);
    expect(roles.map((r) => r.rolname)).toEqual(accounts);
    expect(roles.every((r) => r.rolcanlogin && r.memberships === 1)).toBe(true);
  });

  it('revokes grants that fell due while the server was down', async () => {
    const latest = (await storeDb.query<{ t: Date }>('select max(expires_at) as t from grants')).rows[0]!.t;
    await server!.kill9();
    server = null;
    // The server is down until every grant is overdue.
    await until('every grant overdue', async () => Date.now() > latest!.getTime() + 500, 60_000);
    expect(await states()).toEqual({ active: N });

    server = await startChildServer(env);
    await until('all grants revoked', async () => (await states()).revoked === N);
    const roles = await timeboxRolesOnTarget();
    expect(roles).toHaveLength(N);
    expect(roles.every((r) => !r.rolcanlogin && r.memberships === 0)).toBe(true);
    const revocations = await storeDb.query<{ n: number }>(
      "select count(*)::int as n from audit_events where action = 'grant.revoked'",
    );
    expect(revocations.rows[0]!.n).toBe(N);
  });
});
