/**
 * Targets that are wrong are not saved silently, against a real PostgreSQL server: a target whose
 * connection test fails (a wrong service password) is refused with the test's findings and nothing
 * is stored; saved anyway on request it is listed broken, until a test passes. A target is deleted
 * only once none of its grants is live, and the audit trail keeps naming it afterwards.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import type { ApiClient } from '../support/http.js';

const runId = randomBytes(3).toString('hex');
const T = '/api/v1/tenants/default';
let server: TestServer;
let target: PgTarget;
let alice: ApiClient;

beforeAll(async () => {
  server = await startTestServer();
  target = await preparePgTarget(inject('pgAdminUrl'));
  alice = await addOperator(server, `alice.${runId}@example.test`, ['requester']);
});
afterAll(async () => {
  await server?.close();
  await target?.drop();
});

const listed = async () => (await server.admin.get(`${T}/targets`)).body.items as { id: string; name: string; broken: boolean; lastCheck: { ok: boolean } | null }[];
const wrongPassword = () => ({ ...target.config, password: 'not-the-password' });

it('refuses a target whose test fails, with the findings, and stores nothing', async () => {
  const res = await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: wrongPassword() });
  expect(res.status).toBe(422);
  expect(res.body.error.code).toBe('target_check_failed');
  expect(res.body.error.message).toMatch(/not saved: the connection test failed/);
  const failed = res.body.error.details.check.items.filter((i: { ok: boolean }) => !i.ok);
  expect(failed.length).toBeGreaterThan(0);
  expect(JSON.stringify(failed)).toMatch(/password/i);
  expect(await listed()).toEqual([]);
});

it('saved anyway, it is listed broken; a passing test clears the mark', async () => {
  const res = await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: wrongPassword(), saveUnchecked: true });
  expect(res.status).toBe(201);
  expect(res.body.check.ok).toBe(false);
  expect(res.body.target.broken).toBe(true);
  const id = res.body.target.id as string;
  expect((await listed()).find((t) => t.id === id)).toMatchObject({ name: 'orders-db', broken: true, lastCheck: { ok: false } });

  // A requester may not test it: a test acts on the target and records its result there.
  const byRequester = await alice.post(`${T}/targets/${id}/check`);
  expect(byRequester.status).toBe(403);
  expect((await listed()).find((t) => t.id === id)).toMatchObject({ broken: true, lastCheck: { ok: false } });

  // Fixing the password: the new settings pass their test and the mark goes.
  const fixed = await server.admin.call('PUT', `${T}/targets/${id}`, { config: { password: target.service.password } });
  expect(fixed.status, JSON.stringify(fixed.body)).toBe(200);
  expect(fixed.body.target.broken).toBe(false);
  // Breaking it again without saying so is refused, and the stored settings still work.
  const broken = await server.admin.call('PUT', `${T}/targets/${id}`, { config: { password: 'wrong-again' } });
  expect(broken.status).toBe(422);
  expect((await server.admin.post(`${T}/targets/${id}/check`)).body.ok).toBe(true);
  expect((await listed()).find((t) => t.id === id)!.broken).toBe(false);
});

it('a target with a live grant or a JIT account left on it cannot be deleted; once both are gone it can, and the audit trail still names it', async () => {
  const id = (await listed()).find((t) => t.name === 'orders-db')!.id;
  await server.admin.post(`${T}/policies`, { name: 'db', targetId: id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1800 });
  const grant = await alice.post(`${T}/requests`, { targetId: id, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-77 look at orders' });
  expect(grant.body.state).toBe('active');
  const cred = (await alice.post(`${T}/grants/${grant.body.id}/credential`)).body;

  const refused = await server.admin.call('DELETE', `${T}/targets/${id}`);
  expect(refused.status).toBe(409);
  expect(refused.body.error.message).toBe('target "orders-db" still has 1 grant that is not over (1 active): revoke or deny them, or wait until they end, then delete it');
  expect((await listed()).map((t) => t.id)).toContain(id);
  expect((await psql(target, cred.username, cred.password, 'select 1')).ok).toBe(true);

  expect((await server.admin.post(`${T}/grants/${grant.body.id}/revoke`, { reason: 'done with orders' })).body.state).toBe('revoked');
  // Alice's JIT role is still on the server (disabled): deleting the target would leave it behind.
  const withAccount = await server.admin.call('DELETE', `${T}/targets/${id}`);
  expect(withAccount.status).toBe(409);
  expect(withAccount.body.error.message).toBe('target "orders-db" still has 1 JIT account on the system; delete it first (JIT accounts → Delete, or timebox jit-accounts delete), so none is left behind');
  const account = ((await alice.get(`${T}/jit-accounts?mine=true`)).body.items as { id: string }[])[0]!;
  expect((await alice.call('DELETE', `${T}/jit-accounts/${account.id}`)).status).toBe(204);
  expect((await psql(target, cred.username, cred.password, 'select 1')).ok).toBe(false);
  const deleted = await server.admin.call('DELETE', `${T}/targets/${id}`);
  expect(deleted.status).toBe(204);
  expect(await listed()).toEqual([]);
  expect((await server.admin.get(`${T}/targets/${id}`)).status).toBe(404);
  // The name is free again, and the old grant still names its target.
  expect((await server.admin.get(`${T}/grants/${grant.body.id}`)).body.targetName).toBe('orders-db');

  const audit = (await server.admin.get(`${T}/audit?subjectId=${id}&limit=50`)).body.items as { action: string; before: unknown; after: unknown }[];
  const byAction = Object.fromEntries(audit.map((e) => [e.action, e]));
  expect(byAction['target.deleted']!.before).toEqual({ name: 'orders-db', kind: 'postgres' });
  expect(byAction['target.created']!.after).toMatchObject({ name: 'orders-db', savedUnchecked: true });
  expect(byAction['target.update_refused']!.after).toMatchObject({ name: 'orders-db' });
  expect(JSON.stringify(audit)).not.toContain(target.service.password);
});
