/**
 * The store's PostgreSQL goes away while Timebox runs (a restart, a failover, a maintenance
 * window) and a grant falls due meanwhile. Timebox stays up and says so: every request is
 * answered 503 store_unavailable, and the health check fails. When the database is back, the
 * same process serves requests again and revokes the overdue grant by itself.
 * Real server process; the store on a cluster of its own; a real PostgreSQL target.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { freePort, startPostgres, type PgCluster } from '../harness/postgres.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';
import { addMember, apiClient, signInFirstOwner } from '../support/http.js';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { waitUntil } from '../support/wait-until.js';

let storeCluster: PgCluster;
let target: PgTarget;
let server: ChildServer | null = null;
let dataDir = '';

beforeAll(async () => {
  [storeCluster, target] = await Promise.all([startPostgres({ name: 'store-outage' }), preparePgTarget(inject('pgAdminUrl'))]);
  dataDir = await mkdtemp(path.join(tmpdir(), 'tb-store-outage-'));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await storeCluster?.destroy();
  await target?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('answers 503 while its database is down, stays up, and revokes on return a grant that fell due meanwhile', async () => {
  const storeUrl = await storeCluster.createDatabase('timebox');
  server = await startChildServer({
    DATABASE_URL: storeUrl,
    TIMEBOX_DATA_DIR: dataDir,
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
    TIMEBOX_SWEEP_MS: '500',
  });
  const admin = await signInFirstOwner(server.url, server.bootstrap!);
  const T = '/api/v1/tenants/default';
  const added = await admin.post<{ target: { id: string } }>(`${T}/targets`, { name: 'pg', kind: 'postgres', config: target.config });
  expect(added.status).toBe(201);
  await admin.post(`${T}/policies`, { name: 'p', requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, reasonMinLength: 3 });
  const alice = (await addMember(server.url, admin, 'default', `alice.${randomBytes(2).toString('hex')}@example.com`, ['requester'])).api;

  const grant = await alice.post<{ id: string; state: string; expiresAt: string }>(`${T}/requests`, {
    targetId: added.body.target.id, entitlements: [target.readers], durationSeconds: 10, reason: 'store outage test',
  });
  expect(grant.body).toMatchObject({ state: 'active' });
  const cred = await alice.post<{ username: string; password: string }>(`${T}/grants/${grant.body.id}/credential`);
  expect((await psql(target, cred.body.username, cred.body.password, 'select count(*) from orders')).stdout).toBe('2');

  await storeCluster.stop('fast');
  // Down: a person's call and the health check say so; nothing answers 500, nothing exits.
  const during = await alice.get<{ error: { code: string; message: string } }>(`${T}/grants/${grant.body.id}`);
  expect(during.status).toBe(503);
  expect(during.body.error).toEqual({ code: 'store_unavailable', message: 'the database cannot be reached at the moment; try again' });
  const signIn = await apiClient(server.url).post<{ error: { code: string } }>('/api/v1/auth/login', { email: 'someone@example.com', password: 'whatever-it-is-123' });
  expect(signIn.status).toBe(503);
  expect((await fetch(new URL('/healthz', server.url))).status).toBe(503);
  // The grant falls due while the database is still down.
  await waitUntil('the grant to be overdue', 60_000, async () => Date.now() > new Date(grant.body.expiresAt).getTime() + 1_000);
  expect(process.kill(server.pid, 0)).toBe(true);

  await storeCluster.start();
  const revoked = await waitUntil('the overdue grant to be revoked', 60_000, async () => {
    const r = await alice.get<{ state: string; endReason: string | null }>(`${T}/grants/${grant.body.id}`);
    return r.status === 200 && r.body.state === 'revoked' ? r.body : null;
  });
  expect(revoked.endReason).toBe('expired');
  // Revoked by Timebox on the target, not only lapsed by the role's own expiry.
  const c = new pg.Client({ connectionString: target.db.url });
  await c.connect();
  try {
    const role = await c.query<{ rolcanlogin: boolean; memberships: number }>(
      'SELECT rolcanlogin, (SELECT count(*)::int FROM pg_auth_members m WHERE m.member = r.oid) AS memberships FROM pg_roles r WHERE rolname = $1',
      [cred.body.username],
    );
    expect(role.rows).toEqual([{ rolcanlogin: false, memberships: 0 }]);
  } finally {
    await c.end();
  }
  expect((await psql(target, cred.body.username, cred.body.password, 'select 1')).ok).toBe(false);
});
