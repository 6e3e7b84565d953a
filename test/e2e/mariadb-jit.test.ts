/**
 * A MariaDB target from the outside, against a real MariaDB (Debian's mariadb-server) over
 * verified TLS: a person logs in with the `mariadb` client during the grant, their busy session is
 * killed at the end and a fresh login refused; with Timebox gone before the end, the server's own
 * event locks the account on time; bad names are a 400 and foreign users a 409, nothing created.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MariaDbServer, type MariadbTarget, mariadbClient, prepareMariadbTarget, startMariaDb } from '../harness/mariadb.js';
import type { ApiClient } from '../support/http.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
const runId = randomBytes(3).toString('hex');

async function setUp(server: TestServer, target: MariadbTarget, email: string): Promise<{ client: ApiClient; targetId: string }> {
  const added = await server.admin.post(`${T}/targets`, { name: `shop-${randomBytes(2).toString('hex')}`, kind: 'mariadb', config: target.config });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  expect(added.body.check.ok, JSON.stringify(added.body.check)).toBe(true);
  const targetId = added.body.target.id as string;
  const policy = await server.admin.post(`${T}/policies`, {
    name: 'shop access', targetId, requesterRoles: ['requester'], maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 3600,
  });
  expect(policy.status, JSON.stringify(policy.body)).toBe(201);
  return { client: await addOperator(server, email, ['requester']), targetId };
}

async function users(db: MariaDbServer): Promise<string[]> {
  const c = await db.admin();
  const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT CONCAT(User, "@", Host) AS u FROM mysql.global_priv ORDER BY 1');
  await c.end();
  return rows.map((r) => String(r.u));
}

describe('MariaDB JIT user through Timebox', () => {
  let db: MariaDbServer;
  let server: TestServer;
  let target: MariadbTarget;
  let alice: ApiClient;
  let targetId: string;

  beforeAll(async () => {
    db = await startMariaDb({ name: 'mariadb-e2e' });
    target = await prepareMariadbTarget(db);
    server = await startTestServer({ env: { TIMEBOX_RECONCILE_MS: '0' } }); // the tests run the reconciler themselves
    ({ client: alice, targetId } = await setUp(server, target, `alice.${runId}@example.com`));
  });
  afterAll(async () => {
    await server?.close();
    await db?.destroy();
  });

  it('logs in during the grant, the busy session is killed at the end, and a fresh login is refused after', async () => {
    const res = await alice.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-4711 check orders' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.state).toBe('active');
    const grantId = res.body.id as string;
    const { username, password } = (await alice.post(`${T}/grants/${grantId}/credential`)).body;
    expect(username).toMatch(/_jit$/);

    // The role is the default role: no SET ROLE needed.
    expect(await mariadbClient(db, username, password, 'SELECT item FROM shop.orders ORDER BY id')).toMatchObject({ ok: true, stdout: 'widget\ngadget' });
    const denied = await mariadbClient(db, username, password, "INSERT INTO shop.orders VALUES (3, 'gizmo')");
    expect(denied.ok).toBe(false);
    expect(denied.stderr).toMatch(/INSERT command denied/);

    const session = await mysql.createConnection({ host: db.host, port: db.port, user: username, password, ssl: { ca: db.caPem } });
    session.on('error', () => {});
    const busy = session.query('SELECT SLEEP(600)').then(
      () => 'finished',
      (e: Error & { code?: string }) => e.code ?? e.message,
    );

    server.clock.shift(1800_000);
    await server.tb.scheduler.drain();

    expect(await busy).toMatch(/PROTOCOL_CONNECTION_LOST|ER_CONNECTION_KILLED|ECONNRESET/);
    const after = await mariadbClient(db, username, password, 'SELECT 1');
    expect(after.ok).toBe(false);
    expect(after.stderr).toMatch(/account is locked|Access denied/);
    expect((await alice.get(`${T}/grants/${grantId}`)).body).toMatchObject({ state: 'revoked', endReason: 'expired' });
  });

  it('an account unlocked and given its role back by hand after the end is locked and stripped again by the reconciler', async () => {
    const { username } = (await alice.get(`${T}/jit-accounts?mine=true`)).body.items[0];
    const c = await db.admin();
    await c.query(`ALTER USER '${username}'@'%' IDENTIFIED BY 'rogue-pass-1' ACCOUNT UNLOCK`);
    await c.query(`GRANT ${target.readers} TO '${username}'@'%'`);
    await c.end();
    expect(await mariadbClient(db, username, 'rogue-pass-1', 'SELECT 1')).toMatchObject({ ok: true });

    const run = await server.admin.post(`${T}/reconcile`);
    expect(run.body).toMatchObject({ drifted: 1, repaired: 1, failed: 0 });
    const after = await mariadbClient(db, username, 'rogue-pass-1', 'SELECT 1');
    expect(after.ok).toBe(false);
    const detected = (await server.admin.get(`${T}/audit?action=drift.detected`)).body.items[0];
    expect(detected.after.findings).toEqual(
      expect.arrayContaining([
        { kind: 'entitlement', subject: target.readers, expected: 'absent', actual: 'present' },
        { kind: 'login', subject: username, expected: 'disabled', actual: 'enabled' },
      ]),
    );
    expect((await server.admin.post(`${T}/reconcile`)).body).toMatchObject({ drifted: 0, failed: 0 });
  });

  it('during a grant, a role granted by hand is revoked and a dropped backstop event scheduled again; the granted role stays', async () => {
    const res = await alice.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-4712 orders again' });
    expect(res.body.state).toBe('active');
    const { username, password } = (await alice.post(`${T}/grants/${res.body.id}/credential`)).body;
    const c = await db.admin();
    const event = async () => {
      const [rows] = await c.query<mysql.RowDataPacket[]>("SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'timebox' AND EVENT_COMMENT LIKE ?", [`%locks ${username}@%`]);
      return rows.map((r) => String(r.n));
    };
    const [name] = await event();
    expect(name).toBeDefined();
    await c.query(`GRANT ${target.writers} TO '${username}'@'%'`);
    await c.query(`DROP EVENT timebox.${name}`);

    const run = await server.admin.post(`${T}/reconcile`);
    expect(run.body).toMatchObject({ drifted: 1, repaired: 1, failed: 0 });
    expect(await event()).toEqual([name]);
    const [roles] = await c.query<mysql.RowDataPacket[]>('SELECT Role AS r FROM mysql.roles_mapping WHERE User = ? ORDER BY 1', [username]);
    expect(roles.map((r) => String(r.r))).toEqual([target.readers]);
    await c.end();
    expect(await mariadbClient(db, username, password, 'SELECT count(*) FROM shop.orders')).toMatchObject({ ok: true });
    const detected = (await server.admin.get(`${T}/audit?action=drift.detected`)).body.items[0];
    expect(detected.after).toMatchObject({
      live: true,
      findings: [
        { kind: 'entitlement', subject: target.writers, expected: 'absent', actual: 'present' },
        { kind: 'expiry', subject: username, expected: res.body.expiresAt, actual: null },
      ],
    });
    expect((await alice.post(`${T}/grants/${res.body.id}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
  });

  it('bad names are a 400 with the reason and nothing is created', async () => {
    // Someone without a JIT account yet: the name is theirs to choose.
    const dave = await addOperator(server, `dave.${runId}@example.com`, ['requester']);
    const before = await users(db);
    const accountsBefore = (await dave.get(`${T}/jit-accounts?mine=true`)).body.items.length;
    const cases: Array<[string, RegExp]> = [
      ['root', /"root" is an account or keyword MariaDB reserves/],
      ['mysql_sys', /may not start with "mysql" or "mariadb"/],
      ['public', /"public" is an account or keyword MariaDB reserves/],
      // The API caps every account name at 64 before the kind's own rule (80 on MariaDB) is asked.
      ['a'.repeat(81), /must be 3 to 80 characters long/],
      ["x'@'%", /only contain lowercase letters, digits and underscores/],
      ['ann`jit', /only contain lowercase letters, digits and underscores/],
    ];
    for (const [accountName, message] of cases) {
      const res = await dave.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 600, reason: 'INC-1 names check', accountName });
      expect(res.status, `${accountName}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body.error.message).toMatch(message);
    }
    expect(await users(db)).toEqual(before);
    expect((await dave.get(`${T}/jit-accounts?mine=true`)).body.items.length).toBe(accountsBefore);
  });

  it('a role that reaches the database host (FILE through another role) is not offered, and a request for it is a 400 that creates nothing', async () => {
    const files = `files_${runId}`;
    const wraps = `wraps_${runId}`;
    const c = await db.admin();
    await c.query(`CREATE ROLE \`${files}\``);
    await c.query(`GRANT FILE ON *.* TO \`${files}\``);
    await c.query(`CREATE ROLE \`${wraps}\``);
    await c.query(`GRANT SELECT ON shop.* TO \`${wraps}\``);
    await c.query(`GRANT \`${files}\` TO \`${wraps}\``);
    // The service account may hand it out: only Timebox's own rule stands in the way.
    await c.query(`GRANT \`${wraps}\` TO ${mysql.escape(target.config.user)}@'%' WITH ADMIN OPTION`);
    await c.end();

    const offered = await alice.get(`${T}/targets/${targetId}/entitlements?search=${wraps}`);
    expect(offered.status, JSON.stringify(offered.body)).toBe(200);
    expect(offered.body.items.map((e: { externalId: string }) => e.externalId)).not.toContain(wraps);
    const frank = await addOperator(server, `frank.${runId}@example.com`, ['requester']);
    const before = await users(db);
    const res = await frank.post(`${T}/requests`, { targetId, entitlements: [wraps], durationSeconds: 600, reason: 'INC-3 read the files' });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.message).toMatch(new RegExp(`no entitlement named "${wraps}"`));
    expect(await users(db)).toEqual(before);
    expect((await frank.get(`${T}/jit-accounts?mine=true`)).body.items).toEqual([]);
  });

  it('an existing foreign user is a 409 and stays as it was', async () => {
    const name = `bob_${runId}`;
    const c = await db.admin();
    await c.query(`CREATE USER '${name}'@'%' IDENTIFIED BY 'bobs-own-pass'`);
    await c.end();
    const erin = await addOperator(server, `erin.${runId}@example.com`, ['requester']);
    const before = await users(db);
    const res = await erin.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 600, reason: 'INC-2 take over', accountName: name });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error.message).toMatch(/already in use .*it exists there and is not a Timebox JIT account/);
    expect(await users(db)).toEqual(before);
    expect(await mariadbClient(db, name, 'bobs-own-pass', 'SELECT CURRENT_USER()')).toMatchObject({ ok: true, stdout: `${name}@%` });
  });

  it('with Timebox down before the end, the server locks the account on time by itself', async () => {
    const own = await startTestServer();
    const { client, targetId: tid } = await setUp(own, target, `carol.${runId}@example.com`);
    const res = await client.post(`${T}/requests`, { targetId: tid, entitlements: [target.readers], durationSeconds: 10, reason: 'INC-3 short look' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const end = Date.parse(res.body.expiresAt);
    const { username, password } = (await client.post(`${T}/grants/${res.body.id}/credential`)).body;
    expect((await mariadbClient(db, username, password, 'SELECT COUNT(*) FROM shop.orders')).stdout).toBe('2');
    await own.close(); // Timebox is gone: nobody will revoke

    // Refused from the end on (the event runs within a second or two of it), bounded at 30 s.
    let refusedAt = 0;
    while (!refusedAt) {
      const r = await mariadbClient(db, username, password, 'SELECT 1');
      if (!r.ok) {
        expect(r.stderr).toMatch(/account is locked/);
        refusedAt = Date.now();
      } else {
        expect(Date.now()).toBeLessThan(end + 30_000);
        await new Promise((r2) => setTimeout(r2, 250));
      }
    }
    expect(refusedAt).toBeGreaterThanOrEqual(end - 1_000);
  });
});
