/**
 * Live drift on a real PostgreSQL target, made from outside as a rogue DBA would (psql as the
 * cluster's admin), found and repaired by the reconciler through the API, and audited as data:
 * - after a grant ends, the JIT role is given LOGIN back (with a password of the DBA's, no
 *   expiry) and an extra role: the reconciler disables it again and takes the role away;
 * - while a grant is live, a role it does not hold is granted by hand and VALID UNTIL is cleared:
 *   the extra role is revoked, the granted one and the person's login kept, VALID UNTIL set back
 *   to the grant's end.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import type { ApiClient } from '../support/http.js';

// JIT role names are cluster-wide and test files share the cluster: one person per run.
const runId = randomBytes(3).toString('hex');
const T = '/api/v1/tenants/default';
let server: TestServer;
let target: PgTarget;
let alice: ApiClient;
let targetId: string;

/** The cluster's admin, with the psql client, behind Timebox's back. */
function rogueDba(sql: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('psql', [target.db.url, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { timeout: 15_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(String(stdout).trim()),
    ),
  );
}

const memberOf = (role: string) =>
  rogueDba(`SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '${role}'`);

const driftEvents = async () => (await server.admin.get(`${T}/audit?action=drift.*`)).body.items as Array<{ action: string; after: { findings: unknown[]; live: boolean } }>;

beforeAll(async () => {
  // The reconciler's timer is off: the test runs it when it wants.
  server = await startTestServer({ env: { TIMEBOX_RECONCILE_MS: '0' } });
  target = await preparePgTarget(inject('pgAdminUrl'));
  const added = await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  targetId = added.body.target.id;
  await server.admin.post(`${T}/policies`, { name: 'db', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1800 });
  alice = await addOperator(server, `alice.${runId}@example.test`, ['requester']);
});

afterAll(async () => {
  await server?.close();
  await target?.drop();
});

let username = '';

it('a JIT role re-enabled and given an extra role after its grant ended is disabled again and stripped, and the drift is audited as data', async () => {
  const granted = await alice.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-31 orders' });
  expect(granted.body.state).toBe('active');
  username = granted.body.username;
  expect((await alice.post(`${T}/grants/${granted.body.id}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
  expect(await memberOf(username)).toBe('');

  // Nothing to do while the target is as Timebox left it.
  expect((await server.admin.post(`${T}/reconcile`)).body).toMatchObject({ checked: 1, drifted: 0 });

  await rogueDba(`ALTER ROLE ${username} LOGIN PASSWORD 'rogue-pass-1' VALID UNTIL 'infinity'; GRANT ${target.writers} TO ${username}`);
  expect(await psql(target, username, 'rogue-pass-1', 'INSERT INTO orders VALUES (3, $$rogue$$)')).toMatchObject({ ok: true });

  const run = await server.admin.post(`${T}/reconcile`);
  expect(run.body).toMatchObject({ checked: 1, drifted: 1, repaired: 1, failed: 0 });

  const refused = await psql(target, username, 'rogue-pass-1', 'SELECT 1');
  expect(refused.ok).toBe(false);
  expect(await memberOf(username)).toBe('');
  expect(await rogueDba(`SELECT rolcanlogin FROM pg_roles WHERE rolname = '${username}'`)).toBe('f');

  const events = await driftEvents();
  expect(events.map((e) => e.action)).toEqual(['drift.repaired', 'drift.detected']);
  expect(events[1]!.after.live).toBe(false);
  expect(events[1]!.after.findings).toEqual(
    expect.arrayContaining([
      { kind: 'entitlement', subject: target.writers, expected: 'absent', actual: 'present' },
      { kind: 'login', subject: username, expected: 'disabled', actual: 'enabled' },
    ]),
  );
  expect((await server.admin.post(`${T}/reconcile`)).body).toMatchObject({ checked: 1, drifted: 0 });
});

it('while a grant is live, a role granted by hand is revoked and a cleared VALID UNTIL set back; the granted role and the login stay', async () => {
  const granted = await alice.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-32 orders again' });
  expect(granted.body.state).toBe('active');
  const { password } = (await alice.post(`${T}/grants/${granted.body.id}/credential`)).body;
  const end = new Date(granted.body.expiresAt);

  await rogueDba(`GRANT ${target.writers} TO ${username}; ALTER ROLE ${username} VALID UNTIL 'infinity'`);
  expect(await memberOf(username)).toBe([target.readers, target.writers].sort().join(','));

  const run = await server.admin.post(`${T}/reconcile`);
  expect(run.body).toMatchObject({ checked: 1, drifted: 1, repaired: 1, failed: 0 });

  expect(await memberOf(username)).toBe(target.readers);
  const validUntil = new Date(await rogueDba(`SELECT to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM pg_roles WHERE rolname = '${username}'`));
  expect(validUntil.getTime()).toBe(end.getTime());
  expect(await psql(target, username, password, 'SELECT count(*) FROM orders')).toMatchObject({ ok: true });
  expect((await psql(target, username, password, 'INSERT INTO orders VALUES (4, $$no$$)')).ok).toBe(false);

  const detected = (await driftEvents()).find((e) => e.action === 'drift.detected' && e.after.live)!;
  expect(detected.after.findings).toEqual([
    { kind: 'entitlement', subject: target.writers, expected: 'absent', actual: 'present' },
    { kind: 'expiry', subject: username, expected: end.toISOString(), actual: null },
  ]);
  expect((await alice.get(`${T}/grants/${granted.body.id}`)).body.state).toBe('active');
  expect((await server.admin.post(`${T}/reconcile`)).body).toMatchObject({ checked: 1, drifted: 0 });
});
