/**
 * The reproduced takeover, from outside: operators are shared by all tenants, and a tenant admin
 * used to be able to create an account with a password of their choosing, then sign in as that
 * person wherever they were added later. Now nobody sets anyone's password: tenant B's admin has
 * no way in to the account of a person tenant A added. And decisions follow roles: an approver
 * demoted to auditor still named in a policy is refused, and nothing activates; nor does a
 * scheduled start whose requester was demoted after the approval.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, apiClient, ownPassword, tokenOf, type Invited, type Member } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { waitUntil } from '../support/wait-until.js';

const hex = randomBytes(3).toString('hex');
let server: TestServer;
let adminA: Member; // admin of tenant a
let adminB: Member; // admin of tenant b
let person: Member; // added by tenant a

const login = (email: string, password: string) => apiClient(server.url).post('/api/v1/auth/login', { email, password });

beforeAll(async () => {
  server = await startTestServer({ env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true' } });
  for (const slug of [`a-${hex}`, `b-${hex}`]) expect((await server.admin.post('/api/v1/tenants', { slug, name: slug })).status).toBe(201);
  adminA = await addMember(server.url, server.admin, `a-${hex}`, `admin-a.${hex}@example.com`, ['admin']);
  adminB = await addMember(server.url, server.admin, `b-${hex}`, `admin-b.${hex}@example.com`, ['admin']);
  person = await addMember(server.url, adminA.api, `a-${hex}`, `pat.${hex}@example.com`, ['requester']);
});
afterAll(async () => {
  await server?.close();
});

describe('the cross-tenant takeover', () => {
  it("tenant B's admin cannot choose, learn or reset the password of a person tenant A added", async () => {
    const B = `/api/v1/tenants/b-${hex}`;
    // The old way: adding them with a password of the admin's choosing.
    const withPassword = await adminB.api.post(`${B}/members`, { email: person.email, roles: ['admin'], password: 'chosen-by-admin-b-1' });
    expect(withPassword.status).toBe(400);
    expect(JSON.stringify(withPassword.body)).toContain('password');

    // Adding them now: an invitation, nothing about the account.
    const invited = await adminB.api.post<Invited>(`${B}/members`, { email: person.email, roles: ['admin'] });
    expect(invited.status).toBe(201);
    expect(Object.keys(invited.body).sort()).toEqual(['delivery', 'invitation', 'link']);
    expect(JSON.stringify(invited.body)).not.toContain(person.id);
    expect(JSON.stringify(invited.body)).not.toMatch(/operator|password|displayName/i);

    // The link does not open the account: neither by choosing a password on it...
    const taken = await apiClient(server.url).post('/api/v1/invitations/accept', { token: tokenOf(invited.body.link), password: 'chosen-by-admin-b-1' });
    expect(taken.status).toBe(409);
    expect(taken.body.error.message).toContain(`sign in as ${person.email}`);
    expect((await login(person.email, 'chosen-by-admin-b-1')).status).toBe(401);
    // ...nor by accepting it signed in as someone else.
    const asAdmin = await adminB.api.post('/api/v1/me/invitations/accept', { token: tokenOf(invited.body.link) });
    expect(asAdmin.status).toBe(403);

    // Resetting someone's sign-in is for platform administrators only.
    expect((await adminB.api.post(`/api/v1/operators/${person.id}/reset-sign-in`)).status).toBe(403);
    expect((await adminA.api.post(`/api/v1/operators/${person.id}/reset-sign-in`)).status).toBe(403);

    // Nothing changed: the person's own password works, and they are not in tenant B.
    expect((await login(person.email, person.password)).status).toBe(200);
    const me = await person.api.get('/api/v1/me');
    expect(me.body.memberships.map((m: { tenant: { slug: string } }) => m.tenant.slug)).toEqual([`a-${hex}`]);
    expect((await adminB.api.get(`${B}/members`)).body.items.map((m: { operator: { email: string } }) => m.operator.email)).not.toContain(person.email);
    // And B's admin cannot touch their sessions either: not a member there.
    expect((await adminB.api.post(`${B}/members/${person.id}/end-sessions`, { reason: 'probe' })).status).toBe(404);
  });

  it('the person joins tenant B only by accepting, signed in as themselves', async () => {
    const B = `/api/v1/tenants/b-${hex}`;
    const invited = await adminB.api.post<Invited>(`${B}/members`, { email: person.email, roles: ['requester'] });
    const accepted = await person.api.post('/api/v1/me/invitations/accept', { token: tokenOf(invited.body.link) });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ email: person.email, tenant: { slug: `b-${hex}`, name: `b-${hex}` } });
    const me = await person.api.get('/api/v1/me');
    expect(me.body.memberships.map((m: { tenant: { slug: string } }) => m.tenant.slug)).toEqual([`a-${hex}`, `b-${hex}`]);
    // The earlier invitation (admin role) was superseded by this one: it opens nothing now.
    expect((await person.api.post('/api/v1/me/invitations/accept', { token: tokenOf(invited.body.link) })).status).toBe(409);
  });

  it('a platform administrator resets a sign-in with a new link: password cleared, sessions ended', async () => {
    const reset = await server.admin.post<Invited>(`/api/v1/operators/${person.id}/reset-sign-in`);
    expect(reset.status).toBe(201);
    expect((await person.api.get('/api/v1/me')).status).toBe(401);
    expect((await login(person.email, person.password)).status).toBe(401);
    const next = ownPassword();
    const accepted = await apiClient(server.url).post('/api/v1/invitations/accept', { token: tokenOf(reset.body.link), password: next });
    expect(accepted.status).toBe(200);
    expect((await login(person.email, next)).status).toBe(200);
    person.password = next;
  });
});

/** A fake target in tenant a with a policy on it for requesters (`rules` as given); returns the target's id. */
async function targetWithPolicy(name: string, entitlements: string[], rules: Record<string, unknown>): Promise<string> {
  const A = `/api/v1/tenants/a-${hex}`;
  const target = await adminA.api.post(`${A}/targets`, { name, kind: 'fake', config: { instance: `${name}-${hex}`, entitlements } });
  expect(target.status, JSON.stringify(target.body)).toBe(201);
  const policy = await adminA.api.post(`${A}/policies`, {
    name,
    targetId: target.body.target.id,
    requesterRoles: ['requester'],
    maxDurationSeconds: 3600,
    defaultDurationSeconds: 600,
    rules,
  });
  expect(policy.status, JSON.stringify(policy.body)).toBe(201);
  return target.body.target.id;
}
const oneLevel = (approverId: string) => ({ approvalLevels: [{ name: 'leads', approverIds: [approverId], quorum: 1 }] });

describe('decisions follow roles', () => {
  it('an approver demoted to auditor is refused (403) and nothing activates; a policy refuses such approvers', async () => {
    const A = `/api/v1/tenants/a-${hex}`;
    const carol = await addMember(server.url, adminA.api, `a-${hex}`, `carol.${hex}@example.com`, ['approver']);
    const rita = await addMember(server.url, adminA.api, `a-${hex}`, `rita.${hex}@example.com`, ['requester']);
    const targetId = await targetWithPolicy('orders', ['readers'], oneLevel(carol.id));
    const req = await rita.api.post(`${A}/requests`, { targetId, entitlements: ['readers'], durationSeconds: 600, reason: 'INC-1 look at orders' });
    expect(req.status, JSON.stringify(req.body)).toBe(201);
    expect(req.body.state).toBe('requested');

    // Demoted while still named in the policy.
    expect((await adminA.api.post(`${A}/members`, { email: carol.email, roles: ['auditor'] })).status).toBe(200);
    for (const decision of ['approve', 'deny']) {
      const refused = await carol.api.post(`${A}/grants/${req.body.id}/${decision}`, { reason: 'looks fine' });
      expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    }
    const grant = await rita.api.get(`${A}/grants/${req.body.id}`);
    expect(grant.body.state).toBe('requested');
    expect(grant.body.startsAt).toBeNull();

    // Saving a policy that names an approver whose role cannot approve is refused.
    const again = await adminA.api.post(`${A}/policies`, {
      name: 'orders-2',
      targetId,
      requesterRoles: ['requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 600,
      rules: { approvalLevels: [{ name: 'leads', approverIds: [carol.id], quorum: 1 }] },
    });
    expect(again.status).toBe(400);
    expect(again.body.error.message).toContain('cannot approve');

    // Promoted back, the decision counts at once.
    expect((await adminA.api.post(`${A}/members`, { email: carol.email, roles: ['approver'] })).status).toBe(200);
    const approved = await carol.api.post(`${A}/grants/${req.body.id}/approve`, { reason: 'ok now' });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
  });

  it('a requester demoted to auditor keeps the grant they hold but cannot extend it; promoted back, they can', async () => {
    const A = `/api/v1/tenants/a-${hex}`;
    const rex = await addMember(server.url, adminA.api, `a-${hex}`, `rex.${hex}@example.com`, ['requester']);
    const targetId = await targetWithPolicy('billing', ['readers'], { extension: { allowed: true, maxTotalSeconds: 7200, selfApprove: true } });
    const grant = await rex.api.post(`${A}/requests`, { targetId, entitlements: ['readers'], durationSeconds: 600, reason: 'INC-2 billing run' });
    expect(grant.body.state, JSON.stringify(grant.body)).toBe('active');

    expect((await adminA.api.post(`${A}/members`, { email: rex.email, roles: ['auditor'] })).status).toBe(200);
    const refused = await rex.api.post(`${A}/grants/${grant.body.id}/extend`, { seconds: 3000, reason: 'need more time' });
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body.error.message).toContain('cannot be extended');
    const held = await adminA.api.get(`${A}/grants/${grant.body.id}`);
    expect(held.body).toMatchObject({ state: 'active', expiresAt: grant.body.expiresAt });

    expect((await adminA.api.post(`${A}/members`, { email: rex.email, roles: ['requester'] })).status).toBe(200);
    const extended = await rex.api.post(`${A}/grants/${grant.body.id}/extend`, { seconds: 3000, reason: 'need more time' });
    expect(extended.status, JSON.stringify(extended.body)).toBe(200);
    expect(extended.body.applied).toBe(true);
  });

  it('a request or extension left waiting by a requester demoted to auditor cannot be approved, only denied', async () => {
    const A = `/api/v1/tenants/a-${hex}`;
    const vic = await addMember(server.url, adminA.api, `a-${hex}`, `vic.${hex}@example.com`, ['approver']);
    const ned = await addMember(server.url, adminA.api, `a-${hex}`, `ned.${hex}@example.com`, ['requester']);
    const targetId = await targetWithPolicy('ledger', ['readers', 'writers'], { ...oneLevel(vic.id), extension: { allowed: true, maxTotalSeconds: 7200, selfApprove: false } });
    const ask = (entitlement: string) =>
      ned.api.post(`${A}/requests`, { targetId, entitlements: [entitlement], durationSeconds: 600, reason: 'INC-3 ledger check' });
    const held = await ask('readers');
    const active = await vic.api.post(`${A}/grants/${held.body.id}/approve`, {});
    expect(active.body.state, JSON.stringify(active.body)).toBe('active');
    const ext = await ned.api.post(`${A}/grants/${held.body.id}/extend`, { seconds: 600, reason: 'still checking' });
    expect(ext.body.applied, JSON.stringify(ext.body)).toBe(false);
    const waiting = await ask('writers');
    expect(waiting.body.state, JSON.stringify(waiting.body)).toBe('requested');

    // Demoted while both wait: an approver who approves gives them nothing.
    expect((await adminA.api.post(`${A}/members`, { email: ned.email, roles: ['auditor'] })).status).toBe(200);
    const approve = await vic.api.post(`${A}/grants/${waiting.body.id}/approve`, { reason: 'fine' });
    expect(approve.status, JSON.stringify(approve.body)).toBe(409);
    expect(approve.body.error.message).toBe('the requester can no longer request access in this tenant (their roles here: auditor), so this request cannot be approved; deny it instead');
    const extApprove = await vic.api.post(`${A}/extensions/${ext.body.extensionId}/approve`, {});
    expect(extApprove.status, JSON.stringify(extApprove.body)).toBe(409);
    expect(extApprove.body.error.message).toContain('so this extension cannot be approved');
    const still = await adminA.api.get(`${A}/grants/${held.body.id}`);
    expect(still.body).toMatchObject({ state: 'active', expiresAt: active.body.expiresAt });
    expect((await adminA.api.get(`${A}/grants/${waiting.body.id}`)).body.state).toBe('requested');

    // Denying still works, and so does approving once they may request again.
    const denied = await vic.api.post(`${A}/grants/${waiting.body.id}/deny`, { reason: 'no longer on the team' });
    expect(denied.body.state, JSON.stringify(denied.body)).toBe('denied');
    expect((await adminA.api.post(`${A}/members`, { email: ned.email, roles: ['requester'] })).status).toBe(200);
    const extended = await vic.api.post(`${A}/extensions/${ext.body.extensionId}/approve`, {});
    expect(extended.body.state, JSON.stringify(extended.body)).toBe('approved');
  });

  it('an approved grant does not start if its requester was demoted before the scheduled start', async () => {
    const A = `/api/v1/tenants/a-${hex}`;
    const una = await addMember(server.url, adminA.api, `a-${hex}`, `una.${hex}@example.com`, ['approver']);
    const sid = await addMember(server.url, adminA.api, `a-${hex}`, `sid.${hex}@example.com`, ['requester']);
    const targetId = await targetWithPolicy('vault-later', ['readers'], oneLevel(una.id));
    const startAt = new Date(Date.now() + 4_000).toISOString();
    const asked = await sid.api.post(`${A}/requests`, { targetId, entitlements: ['readers'], durationSeconds: 600, reason: 'INC-9 night change', startAt });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    const approved = await una.api.post(`${A}/grants/${asked.body.id}/approve`, {});
    expect(approved.body.state, JSON.stringify(approved.body)).toBe('approved');

    // Demoted while the start is still ahead: when it comes, nothing is granted.
    expect((await adminA.api.post(`${A}/members`, { email: sid.email, roles: ['auditor'] })).status).toBe(200);
    const ended = await waitUntil('the scheduled start to pass', 30_000, async () => {
      const g = (await adminA.api.get(`${A}/grants/${asked.body.id}`)).body;
      return g.state !== 'approved' && g;
    });
    expect(ended).toMatchObject({ state: 'cancelled' });
    expect(ended.endReason).toBe('not started at its scheduled time: its requester may no longer request access in this tenant (roles held there: auditor)');
    const audit = await adminA.api.get(`${A}/audit?subjectId=${asked.body.id}`);
    expect(audit.body.items.map((e: { action: string }) => e.action)).not.toContain('grant.activated');
  });

  it('a tenant admin cannot set up or remove single sign-on: its role mappings could make them owner', async () => {
    const A = `/api/v1/tenants/a-${hex}`;
    // An identity provider the admin runs, mapping one of its groups to owner, would make them owner
    // at their next SSO sign-in and let them sign in as any member whose email it asserts.
    const set = await adminA.api.call('PUT', `${A}/sso`, {
      issuer: 'https://idp.attacker.example/',
      clientId: 'x',
      clientSecret: 'y',
      scopes: ['openid', 'email', 'groups'],
      roleMappings: [{ group: 'x', roles: ['owner'] }],
    });
    expect(set.status).toBe(403);
    expect(JSON.stringify(set.body)).toContain('owners.manage');
    expect((await adminA.api.call('DELETE', `${A}/sso`)).status).toBe(403);
    // Reading the settings stays open to member managers (nothing is set up here).
    expect((await adminA.api.get(`${A}/sso`)).status).toBe(404);
  });

  it('removing a member removes them from the tenant’s operator groups', async () => {
    const A = `/api/v1/tenants/a-${hex}`;
    const dan = await addMember(server.url, adminA.api, `a-${hex}`, `dan.${hex}@example.com`, ['approver']);
    const group = await adminA.api.post(`${A}/groups`, { name: `leads-${hex}`, memberIds: [dan.id] });
    expect(group.status, JSON.stringify(group.body)).toBe(201);
    expect((await adminA.api.call('DELETE', `${A}/members/${dan.id}`)).status).toBe(204);
    const groups = await adminA.api.get(`${A}/groups`);
    const leads = groups.body.items.find((g: { id: string }) => g.id === group.body.id);
    expect(leads.memberIds).toEqual([]);
  });
});
