/**
 * Editing and removing policies, against a real PostgreSQL target. An edit saves a new version:
 * the request already waiting for approval keeps the rules it was asked under (an approver still
 * decides it), while a new request gets the new rules. A stale edit, a stale policy choice and bad
 * input are refused clearly and change nothing; a removed policy takes no new requests.
 */
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
let carol: ApiClient;
let targetId: string;
let policyV1: { id: string; [k: string]: unknown };
let pendingId: string;

const body = (overrides: Record<string, unknown> = {}) => ({
  name: 'orders access',
  targetId,
  requesterRoles: ['requester'],
  maxDurationSeconds: 4 * 3600,
  defaultDurationSeconds: 3600,
  ...overrides,
});
const ask = (extra: Record<string, unknown> = {}) =>
  alice.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-51 orders are stuck', ...extra });
const livePolicies = async () => (await server.admin.get(`${T}/policies`)).body.items as Array<{ id: string; name: string; rules: any }>;

beforeAll(async () => {
  server = await startTestServer();
  target = await preparePgTarget(inject('pgAdminUrl'));
  targetId = (await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config })).body.target.id;
  alice = await addOperator(server, `alice.${runId}@example.test`, ['requester']);
  carol = await addOperator(server, `carol.${runId}@example.test`, ['approver']);
  const carolId = (await carol.get('/api/v1/me')).body.operator.id;
  const created = await server.admin.post(`${T}/policies`, body({ rules: { approvalLevels: [{ approverIds: [carolId] }] } }));
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  policyV1 = created.body;
});

afterAll(async () => {
  await server?.close();
  await target?.drop();
});

it('an edit is a new version: the pending request keeps its approval, a new request gets the new rules', async () => {
  const pending = await ask();
  expect(pending.status).toBe(201);
  expect(pending.body.state).toBe('requested');
  pendingId = pending.body.id;

  const edited = await server.admin.call('PUT', `${T}/policies/${policyV1.id}`, body({ maxDurationSeconds: 2 * 3600 }));
  expect(edited.status, JSON.stringify(edited.body)).toBe(200);
  expect(edited.body).toMatchObject({ name: 'orders access', maxDurationSeconds: 7200, rules: expect.objectContaining({ approvalLevels: [] }) });
  expect(edited.body.id).not.toBe(policyV1.id);
  expect((await livePolicies()).map((p) => p.id)).toEqual([edited.body.id]);

  // Still in Carol's inbox under the rules it was asked under; her approval activates it.
  const inbox = (await carol.get(`${T}/approvals`)).body.items;
  expect(inbox.map((i: { grant: { id: string } }) => i.grant.id)).toContain(pendingId);
  const approved = await carol.post(`${T}/grants/${pendingId}/approve`, { reason: 'fine' });
  expect(approved.status, JSON.stringify(approved.body)).toBe(200);
  const grant = (await alice.get(`${T}/grants/${pendingId}`)).body;
  expect(grant.state).toBe('active');
  const cred = await alice.post(`${T}/grants/${pendingId}/credential`);
  expect((await psql(target, cred.body.username, cred.body.password, 'select count(*) from orders')).stdout).toBe('2');
  await alice.post(`${T}/grants/${pendingId}/revoke`, { reason: 'done' });

  // New requests: no approval any more, and the new maximum.
  const now = await ask();
  expect(now.status).toBe(201);
  expect(now.body.state).toBe('active');
  await alice.post(`${T}/grants/${now.body.id}/revoke`, { reason: 'done' });
  const tooLong = await ask({ durationSeconds: 3 * 3600 });
  expect(tooLong.status).toBe(422);
  expect(tooLong.body.error.message).toMatch(/2h/);

  const audit = (await server.admin.get(`${T}/audit?action=policy.updated`)).body.items;
  expect(audit).toHaveLength(1);
  expect(audit[0].before).toMatchObject({ id: policyV1.id, maxDurationSeconds: 14400 });
  expect(audit[0].after).toMatchObject({ id: edited.body.id, previousId: policyV1.id, maxDurationSeconds: 7200 });
});

it('refuses a stale edit, a stale policy choice and bad input, changing nothing', async () => {
  const before = await livePolicies();
  const stale = await server.admin.call('PUT', `${T}/policies/${policyV1.id}`, body());
  expect(stale.status).toBe(409);
  expect(stale.body.error.message).toMatch(/was changed or removed meanwhile; reload/);

  const staleChoice = await ask({ policyId: policyV1.id });
  expect(staleChoice.status).toBe(422);
  expect(staleChoice.body.error.message).toMatch(/"orders access" was changed or removed since you picked it/);

  const current = before[0]!.id;
  const bad = await server.admin.call('PUT', `${T}/policies/${current}`, body({ defaultDurationSeconds: 5 * 3600 }));
  expect(bad.status).toBe(400);
  expect(bad.body.error.message).toMatch(/default duration cannot be longer than the maximum/);
  // A role name PostgreSQL could never have: said when the policy is saved, not at the first request.
  const badRole = await server.admin.call('PUT', `${T}/policies/${current}`, body({ entitlements: [target.readers, 'orders readers;'] }));
  expect(badRole.status).toBe(400);
  expect(badRole.body.error.message).toBe('invalid policy: Role names may only contain letters, digits, underscores, dots and hyphens (got "orders readers;")');
  const unknownField = await server.admin.call('PUT', `${T}/policies/${current}`, { ...body(), colour: 'red' });
  expect(unknownField.status).toBe(400);
  // A requester may not edit.
  expect((await alice.call('PUT', `${T}/policies/${current}`, body())).status).toBe(403);
  expect(await livePolicies()).toEqual(before);
});

it('a removed policy takes no new requests; the grants it approved keep their history', async () => {
  const [current] = await livePolicies();
  const removed = await server.admin.call('DELETE', `${T}/policies/${current!.id}`);
  expect(removed.status).toBe(204);
  expect(await livePolicies()).toEqual([]);
  expect((await server.admin.call('DELETE', `${T}/policies/${current!.id}`)).status).toBe(404);
  const refused = await ask();
  expect(refused.status).toBe(422);
  expect(refused.body.error.message).toMatch(/no access policy exists/);
  expect((await alice.get(`${T}/grants/${pendingId}`)).body.state).toBe('revoked');
  const audit = (await server.admin.get(`${T}/audit?action=policy.removed`)).body.items;
  expect(audit).toEqual([expect.objectContaining({ subject_id: current!.id })]);
});
