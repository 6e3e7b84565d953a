/**
 * The JIT accounts menu's "Rotate password" and "Delete", against a real PostgreSQL target and
 * checked from the outside with psql: a rotated password works and the old one is refused at
 * once; a deleted account's role is gone from the server, and the person can start afresh. Only
 * the owner rotates; the owner or an admin deletes, never while a grant holds the account, and a
 * role that owns objects is refused (nothing is dropped with it).
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
let bob: ApiClient;
let targetId: string;

beforeAll(async () => {
  server = await startTestServer();
  target = await preparePgTarget(inject('pgAdminUrl'));
  // JIT users may create tables here: the delete must refuse a role that owns one.
  await asTargetAdmin(`GRANT CREATE ON SCHEMA public TO ${target.writers}`);
  const added = await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config });
  expect(added.status).toBe(201);
  targetId = added.body.target.id;
  const policy = await server.admin.post(`${T}/policies`, {
    name: 'db access',
    targetId,
    requesterRoles: ['requester'],
    maxDurationSeconds: 4 * 3600,
    defaultDurationSeconds: 3600,
  });
  expect(policy.status).toBe(201);
  alice = await addOperator(server, `alice.${runId}@example.test`, ['requester']);
  bob = await addOperator(server, `bob.${runId}@example.test`, ['requester']);
});

afterAll(async () => {
  await server?.close();
  await target?.drop();
});

async function asTargetAdmin(query: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: target.db.url });
  await c.connect();
  try {
    return await c.query(query);
  } finally {
    await c.end();
  }
}

const roleExists = async (name: string) => (await asTargetAdmin(`SELECT 1 FROM pg_roles WHERE rolname = '${name}'`)).rowCount === 1;

async function request(client: ApiClient, entitlement = target.readers) {
  const res = await client.post(`${T}/requests`, { targetId, entitlements: [entitlement], durationSeconds: 1800, reason: 'INC-77 orders look wrong' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.state).toBe('active');
  const cred = await client.post(`${T}/grants/${res.body.id}/credential`);
  return { grantId: res.body.id as string, username: cred.body.username as string, password: cred.body.password as string };
}

const accountOf = async (client: ApiClient) => (await client.get(`${T}/jit-accounts?mine=true`)).body.items[0];

it('rotates the password of an enabled account: the new one works, the old one is refused at once', async () => {
  const { grantId, username, password } = await request(alice);
  expect((await psql(target, username, password, 'select count(*) from orders')).stdout).toBe('2');
  const account = await accountOf(alice);
  expect(account).toMatchObject({ username, status: 'enabled', targetKind: 'postgres', canRotate: true });

  // Only the owner: another requester (and even an admin) gets a 404, as for an unknown account.
  expect((await bob.post(`${T}/jit-accounts/${account.id}/rotate`)).status).toBe(404);
  expect((await server.admin.post(`${T}/jit-accounts/${account.id}/rotate`)).status).toBe(404);

  const rotated = await alice.post(`${T}/jit-accounts/${account.id}/rotate`);
  expect(rotated.status).toBe(200);
  expect(rotated.body).toMatchObject({ accountId: account.id, grantId, username });
  expect(rotated.body.password).not.toBe(password);
  expect((await psql(target, username, rotated.body.password, 'select count(*) from orders')).stdout).toBe('2');
  const old = await psql(target, username, password, 'select 1');
  expect(old.ok).toBe(false);
  expect(old.stderr).toMatch(/password authentication failed/);

  const audit = await server.admin.get(`${T}/audit?action=jit_account.password_rotated`);
  expect(audit.body.items).toEqual([expect.objectContaining({ action: 'jit_account.password_rotated' })]);
  expect(JSON.stringify(audit.body)).not.toContain(rotated.body.password);

  // Ended: nothing to rotate, and the message says what to do instead.
  expect((await alice.post(`${T}/grants/${grantId}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
  const refused = await alice.post(`${T}/jit-accounts/${account.id}/rotate`);
  expect(refused.status).toBe(409);
  expect(refused.body.error.message).toMatch(/not enabled.*Enable it again/);
  expect((await psql(target, username, rotated.body.password, 'select 1')).ok).toBe(false);
});

it('deletes an account only when no grant holds it; the role is gone and the person can start afresh', async () => {
  const account = await accountOf(alice);
  const { grantId, username } = await request(alice); // enables the same account again
  const held = await alice.call('DELETE', `${T}/jit-accounts/${account.id}`);
  expect(held.status).toBe(409);
  expect(held.body.error.message).toMatch(/active grant .*end it first/);
  expect(await roleExists(username)).toBe(true);

  await alice.post(`${T}/grants/${grantId}/revoke`, { reason: 'done' });
  // Another requester cannot see it, let alone delete it.
  expect((await bob.call('DELETE', `${T}/jit-accounts/${account.id}`)).status).toBe(404);
  const deleted = await alice.call('DELETE', `${T}/jit-accounts/${account.id}`);
  expect(deleted.status).toBe(204);
  expect(await roleExists(username)).toBe(false);
  expect((await alice.get(`${T}/jit-accounts`)).body.items).toEqual([]);
  expect((await alice.call('DELETE', `${T}/jit-accounts/${account.id}`)).status).toBe(404);
  const audit = await server.admin.get(`${T}/audit?action=jit_account.deleted`);
  expect(audit.body.items[0]).toMatchObject({ action: 'jit_account.deleted', subject_type: 'jit_account', subject_id: account.id });

  // A fresh account with the same name: a new role that works.
  const again = await request(alice);
  expect(again.username).toBe(username);
  const fresh = await accountOf(alice);
  expect(fresh.id).not.toBe(account.id);
  expect((await psql(target, again.username, again.password, 'select count(*) from orders')).stdout).toBe('2');
  await alice.post(`${T}/grants/${again.grantId}/revoke`, { reason: 'done' });
});

it('refuses to delete a role that owns objects, drops nothing, and deletes once they are handed over; an admin may delete', async () => {
  const { grantId, username, password } = await request(bob, target.writers);
  const made = await psql(target, username, password, 'create table bob_notes (n int)');
  expect(made.ok, made.stderr).toBe(true);
  await bob.post(`${T}/grants/${grantId}/revoke`, { reason: 'done' });
  const account = await accountOf(bob);

  const refused = await server.admin.call('DELETE', `${T}/jit-accounts/${account.id}`);
  expect(refused.status).toBe(409);
  expect(refused.body.error.message).toMatch(/owns objects.*REASSIGN OWNED BY/);
  expect(await roleExists(username)).toBe(true);
  expect((await asTargetAdmin(`SELECT 1 FROM pg_tables WHERE tablename = 'bob_notes'`)).rowCount).toBe(1);
  expect(await accountOf(bob)).toMatchObject({ id: account.id, status: 'disabled' });

  await asTargetAdmin('DROP TABLE bob_notes');
  const deleted = await server.admin.call('DELETE', `${T}/jit-accounts/${account.id}`);
  expect(deleted.status).toBe(204);
  expect(await roleExists(username)).toBe(false);
  expect((await bob.get(`${T}/jit-accounts`)).body.items).toEqual([]);
});
