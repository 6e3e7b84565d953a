import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type SignedIn, type TestApp } from './testing.js';

let t: TestApp;
let root: SignedIn; // platform admin
let alice: SignedIn; // admin of acme
let rita: SignedIn; // requester of acme
let bob: SignedIn; // owner of globex

const as = (who: SignedIn) => ({ authorization: `Bearer ${who.token}` });
const get = (who: SignedIn, url: string) => t.request({ method: 'GET', url, headers: as(who) });
const post = (who: SignedIn, url: string, payload: object) => t.request({ method: 'POST', url, headers: as(who), payload });
const del = (who: SignedIn, url: string) => t.request({ method: 'DELETE', url, headers: as(who) });

const addMember = (tenant: string, email: string, roles: string[]) => t.addMember(root, tenant, email, roles);

beforeAll(async () => {
  t = await createTestApp();
  root = await t.login(t.admin.email, t.admin.password);
  for (const [slug, name] of [['acme', 'Acme'], ['globex', 'Globex']]) {
    const res = await post(root, '/api/v1/tenants', { slug, name });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ slug, name, roles: ['owner'] });
  }
  alice = await addMember('acme', 'alice@acme.test', ['admin']);
  rita = await addMember('acme', 'rita@acme.test', ['requester']);
  bob = await addMember('globex', 'bob@globex.test', ['owner']);
});
afterAll(async () => {
  await t.close();
});

describe('tenant isolation', () => {
  it('lists only the tenants I belong to', async () => {
    const res = await get(alice, '/api/v1/tenants');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ items: [{ id: expect.any(String), slug: 'acme', name: 'Acme', roles: ['admin'] }], nextCursor: null });
  });

  it("answers another tenant's members exactly like a tenant that does not exist", async () => {
    const other = await get(alice, '/api/v1/tenants/globex/members');
    const missing = await get(alice, '/api/v1/tenants/no-such/members');
    expect(other.statusCode).toBe(404);
    expect(other.json()).toEqual({ error: { code: 'not_found', message: 'tenant globex not found' } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: { code: 'not_found', message: 'tenant no-such not found' } });
    // Writes too: no member can be added to, or removed from, a tenant one is not in.
    expect((await post(alice, '/api/v1/tenants/globex/members', { email: 'x@acme.test', roles: ['requester'] })).statusCode).toBe(404);
    expect((await del(alice, `/api/v1/tenants/globex/members/${bob.operatorId}`)).statusCode).toBe(404);
  });

  it('platform admins see every tenant, page by page', async () => {
    const first = await get(root, '/api/v1/tenants?limit=2');
    expect(first.json().items.map((i: { slug: string }) => i.slug)).toEqual(['acme', 'default']);
    const next = await get(root, `/api/v1/tenants?limit=2&cursor=${first.json().nextCursor}`);
    expect(next.json()).toEqual({ items: [expect.objectContaining({ slug: 'globex', roles: ['owner'] })], nextCursor: null });
  });

  it('only platform admins create tenants', async () => {
    const res = await post(bob, '/api/v1/tenants', { slug: 'bobcorp', name: 'Bob' });
    expect(res.statusCode).toBe(403);
    const bad = await post(root, '/api/v1/tenants', { slug: 'Bad Slug', name: 'x' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain('Slug: use lowercase letters');
    const dup = await post(root, '/api/v1/tenants', { slug: 'acme', name: 'Again' });
    expect(dup.statusCode).toBe(409);
  });
});

describe('members', () => {
  it('a requester cannot add members and is told which permission is missing', async () => {
    const res = await post(rita, '/api/v1/tenants/acme/members', { email: 'eve@acme.test', roles: ['admin'] });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.message).toContain('members.manage');
    expect((await get(rita, '/api/v1/tenants/acme/members')).statusCode).toBe(403);
  });

  it('an admin invites a new person, who chooses their own password', async () => {
    const res = await post(alice, '/api/v1/tenants/acme/members', { email: 'Carol@Acme.test', displayName: 'Carol', roles: ['approver', 'approver'] });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ invitation: { email: 'carol@acme.test', roles: ['approver'] }, delivery: 'link', link: expect.stringMatching(/\/invite\/tbi_/) });
    expect(JSON.stringify(body)).not.toMatch(/password/i);
    const token = body.link.split('/invite/')[1];
    const accepted = await t.request({ method: 'POST', url: '/api/v1/invitations/accept', payload: { token, password: 'violet-harbor-tractor-91' } });
    expect(accepted.json()).toEqual({ email: 'carol@acme.test', tenant: { slug: 'acme', name: 'Acme' } });
    const carol = await t.login('carol@acme.test', 'violet-harbor-tractor-91');
    const me = await get(carol, '/api/v1/me');
    expect(me.json().memberships).toEqual([{ tenant: expect.objectContaining({ slug: 'acme' }), roles: ['approver'] }]);
    expect(me.json().operator).toMatchObject({ displayName: 'Carol', passwordChangeRequired: false });

    // Adding a member again updates the roles.
    const again = await post(alice, '/api/v1/tenants/acme/members', { email: 'carol@acme.test', roles: ['requester'] });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ operator: expect.objectContaining({ email: 'carol@acme.test' }), roles: ['requester'], disabledHere: false });
  });

  it("an admin cannot set anyone's password, and an existing account is never linked without consent", async () => {
    const withPassword = await post(alice, '/api/v1/tenants/acme/members', { email: 'bob@globex.test', roles: ['requester'], password: 'a-new-password-1' });
    expect(withPassword.statusCode).toBe(400);
    const invited = await post(alice, '/api/v1/tenants/acme/members', { email: 'bob@globex.test', roles: ['requester'] });
    expect(invited.statusCode).toBe(201);
    // The link does not let its holder into Bob's account, and nothing was added.
    const token = invited.json().link.split('/invite/')[1];
    const taken = await t.request({ method: 'POST', url: '/api/v1/invitations/accept', payload: { token, password: 'violet-harbor-tractor-91' } });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error.message).toContain('sign in as bob@globex.test');
    expect((await get(bob, '/api/v1/me')).json().memberships.map((m: { tenant: { slug: string } }) => m.tenant.slug)).toEqual(['globex']);
  });

  it('making, changing or removing an owner needs owners.manage', async () => {
    const owner = await post(alice, '/api/v1/tenants/acme/members', { email: 'dave@acme.test', roles: ['owner'] });
    expect(owner.statusCode).toBe(403);
    expect(owner.json().error.message).toContain('owners.manage');
    const rootOwner = await post(alice, '/api/v1/tenants/acme/members', { email: t.admin.email, roles: ['requester'] });
    expect(rootOwner.statusCode).toBe(403);
    expect((await del(alice, `/api/v1/tenants/acme/members/${root.operatorId}`)).statusCode).toBe(403);
  });

  it('an owner can remove another owner, but the last owner cannot be removed or demoted', async () => {
    expect((await del(bob, `/api/v1/tenants/globex/members/${root.operatorId}`)).statusCode).toBe(204);
    const res = await del(bob, `/api/v1/tenants/globex/members/${bob.operatorId}`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toContain('last owner');
    const demote = await post(bob, '/api/v1/tenants/globex/members', { email: 'bob@globex.test', roles: ['admin'] });
    expect(demote.statusCode).toBe(409);
    expect((await get(bob, '/api/v1/me')).json().memberships).toEqual([expect.objectContaining({ roles: ['owner'] })]);
  });

  it('lists members page by page, and a removed member loses access', async () => {
    const first = await get(alice, '/api/v1/tenants/acme/members?limit=2');
    expect(first.statusCode).toBe(200);
    const all = [...first.json().items];
    let cursor = first.json().nextCursor;
    while (cursor) {
      const page = await get(alice, `/api/v1/tenants/acme/members?limit=2&cursor=${cursor}`);
      all.push(...page.json().items);
      cursor = page.json().nextCursor;
    }
    expect(all.map((m) => m.operator.email)).toEqual(['admin@localhost', 'alice@acme.test', 'carol@acme.test', 'rita@acme.test']);
    // A forged cursor is refused before it reaches SQL.
    const forged = Buffer.from(JSON.stringify(['a', "x' or 1=1"])).toString('base64url');
    const bad = await get(alice, `/api/v1/tenants/acme/members?cursor=${forged}`);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain('malformed cursor');

    expect((await del(alice, `/api/v1/tenants/acme/members/${rita.operatorId}`)).statusCode).toBe(204);
    expect((await get(rita, '/api/v1/tenants')).json().items).toEqual([]);
    expect((await del(alice, `/api/v1/tenants/acme/members/${rita.operatorId}`)).statusCode).toBe(404);
  });

  it('every membership change is in the audit log of its tenant, without secrets', async () => {
    const acme = await t.db.selectFrom('tenants').select('id').where('slug', '=', 'acme').executeTakeFirstOrThrow();
    const events = await t.db.selectFrom('audit_events').selectAll().where('tenant_id', '=', acme.id).orderBy('seq').execute();
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['tenant.created', 'operator.created', 'membership.added', 'membership.updated', 'membership.removed']),
    );
    expect(JSON.stringify(events)).not.toMatch(/argon2|initialPassword|password_hash/);
  });
});

it('no response contained a password hash or token hash', async () => {
  expect(await t.leakedHashes()).toEqual([]);
});
