/**
 * Leaving a tenant ends one's access in it, whichever way one leaves: an admin removes the member,
 * or the identity provider stops giving them a role there (seen at their next single sign-on).
 * In the removal's own commit their pending requests are cancelled and their live grants move to
 * revoking; the revocation then runs on the real target (psql login refused after it).
 * Before, a removed person kept their live grants until those expired.
 *
 * Being disabled (offboarding, in a tenant or everywhere) ends them in its own commit too: before,
 * the grants were ended after the disable committed, so a crash in between left a disabled person
 * their access until it expired.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { startRogueProvider, type RogueProvider } from '../harness/rogue-oidc.js';
import { addMember, apiClient, type ApiClient } from '../support/http.js';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { browserless, configureSso, startAndAuthorize } from '../support/sso.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');

let server: TestServer;
let target: PgTarget;
let rogue: RogueProvider;
const ids: Record<string, string> = {};

beforeAll(async () => {
  [server, target, rogue] = await Promise.all([
    startTestServer({ env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true', TIMEBOX_RECONCILE_MS: '0' } }),
    preparePgTarget(inject('pgAdminUrl')),
    startRogueProvider(),
  ]);
  const pg = await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config });
  expect(pg.status, JSON.stringify(pg.body)).toBe(201);
  ids.pg = pg.body.target.id;
  // Granted at once on the database; a request on the other target waits for an approver.
  await server.admin.post(`${T}/policies`, { name: 'orders', targetId: ids.pg, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1800 });
  const fake = await server.admin.post(`${T}/targets`, { name: 'reports', kind: 'fake', config: { instance: `r-${hex}`, entitlements: ['readers'] } });
  ids.fake = fake.body.target.id;
  const approver = await addMember(server.url, server.admin, 'default', `amy.${hex}@example.com`, ['approver']);
  await server.admin.post(`${T}/policies`, {
    name: 'reports', targetId: ids.fake, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1800,
    rules: { approvalLevels: [{ name: 'ops', approverIds: [approver.id], quorum: 1 }] },
  });
  await configureSso(server.admin, 'default', {
    issuer: rogue.issuer, clientId: rogue.clientId, clientSecret: rogue.clientSecret,
    roleMappings: [{ group: 'timebox-requesters', roles: ['requester'] }],
  });
}, 120_000);

afterAll(async () => {
  await rogue?.stop();
  await server?.close();
  await target?.drop();
});

/** A live database grant (logged in with psql) and a pending request, both of this person. */
async function accessOf(api: ApiClient) {
  const live = await api.post(`${T}/requests`, { targetId: ids.pg, entitlements: [target.readers], reason: 'month-end close' });
  expect(live.body, JSON.stringify(live.body)).toMatchObject({ state: 'active' });
  const cred = await api.post(`${T}/grants/${live.body.id}/credential`);
  expect((await psql(target, cred.body.username, cred.body.password, 'select count(*) from orders')).stdout).toBe('2');
  const pending = await api.post(`${T}/requests`, { targetId: ids.fake, entitlements: ['readers'], reason: 'quarterly report' });
  expect(pending.body).toMatchObject({ state: 'requested' });
  return { liveId: live.body.id as string, pendingId: pending.body.id as string, username: cred.body.username as string, password: cred.body.password as string };
}

const stateOf = async (id: string) => (await server.admin.get(`${T}/grants/${id}`)).body as { state: string; endReason: string | null };

/** Runs the revocations now and waits until the grant is revoked (or says where it stood after 60 s). */
async function untilRevoked(id: string) {
  const end = Date.now() + 60_000;
  for (;;) {
    await server.tb.scheduler.drain();
    const g = await stateOf(id);
    if (g.state === 'revoked' || Date.now() > end) return g;
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('an admin removes a member: in the same commit their request is cancelled and their grant is revoking; the target refuses them after', async () => {
  const rita = await addMember(server.url, server.admin, 'default', `rita.${hex}@example.com`, ['requester']);
  const a = await accessOf(rita.api);

  const removed = await server.admin.call('DELETE', `${T}/members/${rita.id}`);
  expect(removed.status).toBe(204);
  // Nothing ran yet but the removal's commit: that alone ended both.
  expect(await stateOf(a.pendingId)).toMatchObject({ state: 'cancelled' });
  expect(['revoking', 'revoked']).toContain((await stateOf(a.liveId)).state);
  expect(await untilRevoked(a.liveId)).toMatchObject({ state: 'revoked', endReason: 'removed from the tenant' });
  expect((await psql(target, a.username, a.password, 'select 1')).ok).toBe(false);
  expect((await rita.api.get(`${T}/grants`)).status).toBe(404);
});

it('the identity provider stops giving a role: the next sign-in removes the member and ends their access the same way', async () => {
  rogue.mode = 'good';
  rogue.person = { sub: `sub-sam-${hex}`, email: `sam.${hex}@example.test`, groups: ['timebox-requesters'] };
  const b = browserless();
  expect((await b.get(await startAndAuthorize(b, server.url, 'default'))).status).toBe(200);
  const sam = apiClient(server.url, b.jar.get('timebox_session'));
  const a = await accessOf(sam);

  rogue.person = { ...rogue.person, groups: [] };
  const again = browserless();
  const refused = await again.get(await startAndAuthorize(again, server.url, 'default'));
  expect(refused.status).toBe(403);
  expect(await stateOf(a.pendingId)).toMatchObject({ state: 'cancelled' });
  expect(await untilRevoked(a.liveId)).toMatchObject({ state: 'revoked', endReason: 'the identity provider no longer gives a role in this tenant' });
  expect((await psql(target, a.username, a.password, 'select 1')).ok).toBe(false);
});

/** The transaction (xid) each audit event about these subjects was written in, by action. */
async function commitsOf(subjectIds: string[]): Promise<Record<string, string>> {
  const rows = await sql<{ action: string; xid: string }>`
    SELECT action, xid::text AS xid FROM audit_events WHERE subject_id = ANY(${subjectIds}::text[]) ORDER BY seq`.execute(server.tb.store.db);
  return Object.fromEntries(rows.rows.map((r) => [r.action, r.xid]));
}

it.each([
  ['in the tenant', (id: string) => `${T}/members/${id}/disable`, 'membership.disabled'],
  ['everywhere', (id: string) => `/api/v1/operators/${id}/disable`, 'operator.disabled'],
])('disabling a member %s cancels their request and makes their grant revoking in the disable’s own commit; the target refuses them after', async (_where, path, disabled) => {
  const dora = await addMember(server.url, server.admin, 'default', `dora.${randomBytes(3).toString('hex')}@example.com`, ['requester']);
  const a = await accessOf(dora.api);

  const res = await server.admin.post(path(dora.id), { reason: 'left the company' });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toMatchObject({ requestsCancelled: 1, grantsRevoked: 1 });
  const commits = await commitsOf([dora.id, a.pendingId, a.liveId]);
  // One transaction wrote the disable, the cancellation and the move to revoking.
  expect(commits[disabled]).toBeDefined();
  expect(commits['grant.cancelled']).toBe(commits[disabled]);
  expect(commits['grant.revoking']).toBe(commits[disabled]);
  expect(await untilRevoked(a.liveId)).toMatchObject({ state: 'revoked', endReason: 'offboarded: left the company' });
  expect((await psql(target, a.username, a.password, 'select 1')).ok).toBe(false);
});
