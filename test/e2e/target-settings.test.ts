/**
 * Changing a target's settings, against a real PostgreSQL target: the DBA rotates Timebox's
 * service password. New settings are tested before they are saved; while a grant is live, settings
 * that fail the test are refused (its revocation depends on them) and nothing changes. The right
 * password alone (other keys keep their stored values) is saved, and the live grant is then
 * revoked and refused from the outside. No secret reaches the audit log.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import type { ApiClient } from '../support/http.js';

// JIT role names are cluster-wide and test files share the cluster: one set of people per run.
const runId = randomBytes(3).toString('hex');
const T = '/api/v1/tenants/default';
let server: TestServer;
let target: PgTarget;
let alice: ApiClient;
let targetId: string;

beforeAll(async () => {
  server = await startTestServer();
  target = await preparePgTarget(inject('pgAdminUrl'));
  targetId = (await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config })).body.target.id;
  await server.admin.post(`${T}/targets`, { name: 'billing-db', kind: 'postgres', config: target.config });
  await server.admin.post(`${T}/policies`, { name: 'db', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1800 });
  alice = await addOperator(server, `alice.${runId}@example.test`, ['requester']);
});

afterAll(async () => {
  await server?.close();
  await target?.drop();
});

const put = (c: ApiClient, body: unknown) => c.call('PUT', `${T}/targets/${targetId}`, body);

it('refuses settings that fail the test while a grant is live, saves the rotated password alone, and the grant is then revoked', async () => {
  const granted = await alice.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-90 check orders' });
  expect(granted.body.state).toBe('active');
  const cred = (await alice.post(`${T}/grants/${granted.body.id}/credential`)).body;

  // The DBA rotates Timebox's service password on the server.
  const rotated = randomBytes(18).toString('base64url');
  const dba = new pg.Client({ connectionString: target.db.url });
  await dba.connect();
  await dba.query(`ALTER ROLE ${target.service.user} PASSWORD ${pg.escapeLiteral(rotated)}`);
  // and ends its sessions, so Timebox's pooled connections have to log in again.
  await dba.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [target.service.user]);
  await dba.end();
  expect((await server.admin.post(`${T}/targets/${targetId}/check`)).body.ok).toBe(false);

  const wrong = await put(server.admin, { config: { password: 'not-the-new-one-123' } });
  expect(wrong.status).toBe(409);
  expect(wrong.body.error.message).toMatch(/^not saved: 1 live grant\(s\) on orders-db need these settings to be revoked, and they fail the connection test \(.*authentication failed/);
  expect((await server.admin.post(`${T}/targets/${targetId}/check`)).body.ok).toBe(false); // nothing changed

  const fixed = await put(server.admin, { config: { password: rotated } });
  expect(fixed.status, JSON.stringify(fixed.body)).toBe(200);
  expect(fixed.body.check.ok).toBe(true);
  expect(fixed.body.target).toMatchObject({ id: targetId, name: 'orders-db', kind: 'postgres' });
  expect((await server.admin.post(`${T}/targets/${targetId}/check`)).body.ok).toBe(true);

  const ended = await alice.post(`${T}/grants/${granted.body.id}/revoke`, { reason: 'done' });
  expect(ended.body.state).toBe('revoked');
  expect((await psql(target, cred.username, cred.password, 'select 1')).ok).toBe(false);

  const audit = await server.admin.get(`${T}/audit?action=target.updated`);
  expect(audit.body.items).toEqual([expect.objectContaining({ after: { name: 'orders-db', configKeysChanged: ['password'] } })]);
  expect(JSON.stringify(audit.body)).not.toContain(rotated);
});

it('renames; refuses a taken name, bad settings and requesters, changing nothing', async () => {
  const renamed = await put(server.admin, { name: 'orders-primary' });
  expect(renamed.status).toBe(200);
  expect(renamed.body).toMatchObject({ target: { name: 'orders-primary' }, check: null });

  const cases: Array<[unknown, number, RegExp]> = [
    [{ name: 'billing-db' }, 409, /a target named "billing-db" already exists/],
    [{ config: { port: 'five' } }, 400, /^The postgres target's settings are not valid\. Port must be a number/],
    [{ config: { port: 70000 } }, 400, /^The postgres target's settings are not valid\. Port /],
    [{ config: { colour: 'red' } }, 400, /colour/],
    [{ kind: 'active-directory' }, 400, /kind/],
  ];
  for (const [body, status, message] of cases) {
    const res = await put(server.admin, body);
    expect(res.status, JSON.stringify(body)).toBe(status);
    expect(res.body.error.message, JSON.stringify(body)).toMatch(message);
  }
  expect((await alice.call('PUT', `${T}/targets/${targetId}`, { name: 'mine' })).status).toBe(403);
  expect((await server.admin.get(`${T}/targets/${targetId}`)).body.name).toBe('orders-primary');
  expect((await server.admin.post(`${T}/targets/${targetId}/check`)).body.ok).toBe(true);
});
