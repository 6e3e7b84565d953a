/**
 * Owners stay guarded and SSH keys do not outlive the sign-in that planted them, from outside:
 * an admin cannot bring back an owner another owner disabled, nor end the sessions of (or
 * disable) a platform administrator who is a lesser member of the tenant; a tenant cannot be
 * left with disabled owners only. A leaked API token or a session confined to one tenant by
 * single sign-on cannot register an SSH key for the gateway, and ending someone's sessions and
 * tokens (end-sessions, disable here or everywhere, sign-in reset) removes their keys, audited.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperators } from '../../src/auth/operators.js';
import { newEd25519KeyPair } from '../../src/gateway/ed25519-keypair.js';
import { identify } from '../../src/gateway/gateway-auth.js';
import { gatewayDb } from '../../src/store/schema-gateway.js';
import { addMember, apiClient, ownPassword, signIn, type ApiClient, type Member } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const hex = randomBytes(3).toString('hex');
const system = { type: 'system' as const, id: null };
let server: TestServer;

const operatorsOf = () => createOperators({ db: server.tb.store.db, audit: server.tb.deps.audit, clock: server.tb.deps.clock });
const tenantId = async (slug: string) => (await server.tb.store.db.selectFrom('tenants').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;

async function newTenant(slug: string) {
  expect((await server.admin.post('/api/v1/tenants', { slug, name: slug })).status).toBe(201);
  return `/api/v1/tenants/${slug}`;
}

/** A platform administrator who is only a requester in `tenant`. */
async function platformAdminIn(tenant: string, email: string): Promise<Member> {
  const operators = operatorsOf();
  const password = ownPassword();
  const op = await operators.create({ email, displayName: 'Pat', password, platformAdmin: true }, system);
  await operators.setMembership(await tenantId(tenant), op.id, ['requester'], system);
  return { id: op.id, email, password, api: await signIn(server.url, email, password) };
}

/** Whether the gateway would take this public key as someone's registered key. */
async function gatewayKnows(publicKey: string): Promise<boolean> {
  const [algo, data] = publicKey.split(' ');
  const r = await identify(server.tb.store.db, Buffer.alloc(0), { key: { algo: algo!, data: Buffer.from(data!, 'base64') } as never, signature: undefined, blob: undefined, hashAlgo: undefined }, Math.floor(Date.now() / 1000));
  return r.kind === 'would_accept';
}

const keysOf = (operatorId: string) => gatewayDb(server.tb.store.db).selectFrom('operator_ssh_keys').select('id').where('operator_id', '=', operatorId).execute();
const removedKeyEvents = (keyId: string) =>
  server.tb.store.db.selectFrom('audit_events').select(['actor_id', 'reason']).where('action', '=', 'gateway.ssh_key_removed').where('subject_id', '=', keyId).execute();

beforeAll(async () => {
  server = await startTestServer({ env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true' } });
});
afterAll(async () => {
  await server?.close();
});

describe('owner guards', () => {
  it('an admin cannot re-enable an owner that another owner disabled', async () => {
    const slug = `en-${hex}`;
    const T = await newTenant(slug);
    const o1 = await addMember(server.url, server.admin, slug, `o1.en.${hex}@example.com`, ['owner']);
    const o2 = await addMember(server.url, server.admin, slug, `o2.en.${hex}@example.com`, ['owner']);
    const admin = await addMember(server.url, server.admin, slug, `ad.en.${hex}@example.com`, ['admin']);
    expect((await o1.api.post(`${T}/members/${o2.id}/disable`, { reason: 'left the company' })).status).toBe(200);
    // Disabling an owner was already refused to an admin; enabling one is refused the same way.
    expect((await admin.api.post(`${T}/members/${o2.id}/disable`, { reason: 'probe' })).status).toBe(403);
    const enabled = await admin.api.post(`${T}/members/${o2.id}/enable`);
    expect(enabled.status).toBe(403);
    expect(enabled.body.error.message).toContain('to do this to an owner');
    const members = (await o1.api.get(`${T}/members`)).body.items as Array<{ operator: { id: string }; disabledHere: boolean }>;
    expect(members.find((m) => m.operator.id === o2.id)?.disabledHere).toBe(true);
    // An owner may.
    expect((await o1.api.post(`${T}/members/${o2.id}/enable`)).status).toBe(204);
  });

  it('an owner cannot leave the tenant with disabled owners only', async () => {
    const slug = `lo-${hex}`;
    const T = await newTenant(slug);
    const o1 = await addMember(server.url, server.admin, slug, `o1.lo.${hex}@example.com`, ['owner']);
    const o2 = await addMember(server.url, server.admin, slug, `o2.lo.${hex}@example.com`, ['owner']);
    // The platform administrator who created the tenant leaves it: O1 and O2 are its owners.
    const me = (await server.admin.get('/api/v1/me')).body.operator.id as string;
    expect((await server.admin.call('DELETE', `${T}/members/${me}`)).status).toBe(204);
    expect((await o1.api.post(`${T}/members/${o2.id}/disable`, { reason: 'on leave' })).status).toBe(200);

    const demoted = await o1.api.post(`${T}/members`, { email: o1.email, roles: ['admin'] });
    expect(demoted.status).toBe(409);
    expect(demoted.body.error.message).toContain('last owner');
    expect((await o1.api.call('DELETE', `${T}/members/${o1.id}`)).status).toBe(409);
    const members = (await o1.api.get(`${T}/members`)).body.items as Array<{ operator: { id: string }; roles: string[] }>;
    expect(members.find((m) => m.operator.id === o1.id)?.roles).toEqual(['owner']);
    // With O2 back, O1 may step down.
    expect((await o1.api.post(`${T}/members/${o2.id}/enable`)).status).toBe(204);
    expect((await o1.api.post(`${T}/members`, { email: o1.email, roles: ['admin'] })).status).toBe(200);
  });

  it('a platform administrator who is a lesser member is guarded like an owner', async () => {
    const slug = `pa-${hex}`;
    const T = await newTenant(slug);
    const owner = await addMember(server.url, server.admin, slug, `o.pa.${hex}@example.com`, ['owner']);
    const admin = await addMember(server.url, server.admin, slug, `ad.pa.${hex}@example.com`, ['admin']);
    const pat = await platformAdminIn(slug, `pat.pa.${hex}@example.com`);

    const ended = await admin.api.post(`${T}/members/${pat.id}/end-sessions`, { reason: 'probe' });
    expect(ended.status).toBe(403);
    expect(ended.body.error.message).toContain('platform administrator');
    expect((await admin.api.post(`${T}/members/${pat.id}/disable`, { reason: 'probe' })).status).toBe(403);
    // Nor may an admin change their roles here or remove them from the tenant.
    const demote = await admin.api.post(`${T}/members`, { email: pat.email, roles: ['auditor'] });
    expect(demote.status).toBe(403);
    expect(demote.body.error.message).toBe(`you need the owners.manage permission in tenant ${slug} to change the roles of a platform administrator`);
    const removed = await admin.api.call('DELETE', `${T}/members/${pat.id}`);
    expect(removed.status).toBe(403);
    expect(removed.body.error.message).toBe(`you need the owners.manage permission in tenant ${slug} to remove a platform administrator`);
    expect((await pat.api.get('/api/v1/me')).status).toBe(200);
    const members = (await owner.api.get(`${T}/members`)).body.items as Array<{ operator: { id: string }; disabledHere: boolean }>;
    expect(members.find((m) => m.operator.id === pat.id)?.disabledHere).toBe(false);

    // An owner of the tenant may.
    expect((await owner.api.post(`${T}/members`, { email: pat.email, roles: ['auditor'] })).status).toBe(200);
    expect((await owner.api.post(`${T}/members/${pat.id}/end-sessions`, { reason: 'lost laptop' })).body).toEqual({ sessionsAndTokensEnded: 1 });
    expect((await pat.api.get('/api/v1/me')).status).toBe(401);
  });

  it('a platform administrator cannot be disabled in one tenant (it would not end their access), nor enable themselves', async () => {
    const slug = `pd-${hex}`;
    const T = await newTenant(slug);
    const owner = await addMember(server.url, server.admin, slug, `o.pd.${hex}@example.com`, ['owner']);
    const pat = await platformAdminIn(slug, `pat.pd.${hex}@example.com`);
    const refused = await owner.api.post(`${T}/members/${pat.id}/disable`, { reason: 'left the MSP' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/^this member is a platform administrator, whose access to every tenant comes from the platform: disabling them here would not end it/);
    // Nothing happened: still signed in, still a member here, not disabled.
    expect((await pat.api.get('/api/v1/me')).status).toBe(200);
    const members = (await owner.api.get(`${T}/members`)).body.items as Array<{ operator: { id: string }; disabledHere: boolean }>;
    expect(members.find((m) => m.operator.id === pat.id)?.disabledHere).toBe(false);
    // No one enables themselves, not even a platform administrator.
    const self = await pat.api.post(`${T}/members/${pat.id}/enable`);
    expect(self.status).toBe(403);
    expect(self.body.error.message).toBe('you cannot enable yourself');
  });
});

describe('SSH keys for the gateway', () => {
  it('a leaked API token or a single sign-on session cannot register a key', async () => {
    const m = await addMember(server.url, server.admin, 'default', `tok.${hex}@example.com`, ['requester']);
    const token = (await m.api.post('/api/v1/tokens', { name: 'script' })).body.token as string;
    const leaked = apiClient(server.url, token);
    const key = newEd25519KeyPair('planted').publicKey;

    const planted = await leaked.post('/api/v1/me/ssh-keys', { name: 'planted', publicKey: key });
    expect(planted.status).toBe(403);
    expect(planted.body.error.message).toContain('signed-in session, not with an API token');
    expect(await keysOf(m.id)).toEqual([]);
    expect(await gatewayKnows(key)).toBe(false);
    // A gateway certificate lasts five minutes and is what `timebox ssh` asks for with a token.
    expect((await leaked.post('/api/v1/gateway/certificate', { publicKey: newEd25519KeyPair('cli').publicKey })).status).toBe(200);

    // A session begun through tenant default's single sign-on (as sso-sign-in.ts marks it).
    const s = await addMember(server.url, server.admin, 'default', `sso.${hex}@example.com`, ['requester']);
    const defaultId = await tenantId('default');
    await server.tb.store.db.updateTable('api_tokens').set({ sso_tenant_id: defaultId }).where('operator_id', '=', s.id).where('kind', '=', 'session').execute();
    expect((await s.api.get('/api/v1/me')).body.session.kind).toBe('session');
    const viaSso = await s.api.post('/api/v1/me/ssh-keys', { name: 'laptop', publicKey: key });
    expect(viaSso.status).toBe(403);
    expect(viaSso.body.error.message).toContain('single sign-on');
    expect(await keysOf(s.id)).toEqual([]);
    // A certificate while default is the only tenant the person is in; not once it would reach another.
    expect((await s.api.post('/api/v1/gateway/certificate', { publicKey: newEd25519KeyPair('sso').publicKey })).status).toBe(200);
    const other = `sso-${hex}`;
    await newTenant(other);
    await operatorsOf().setMembership(await tenantId(other), s.id, ['requester'], system);
    const cert = await s.api.post('/api/v1/gateway/certificate', { publicKey: newEd25519KeyPair('sso').publicKey });
    expect(cert.status).toBe(403);
    expect(cert.body.error.message).toContain('other tenants');

    // A signed-in session still may.
    const added = await m.api.post('/api/v1/me/ssh-keys', { name: 'laptop', publicKey: key });
    expect(added.status).toBe(201);
    expect(await gatewayKnows(key)).toBe(true);
  });

  it('ending sessions and tokens removes the keys too, audited: end-sessions, disable here or everywhere, sign-in reset', async () => {
    const T = '/api/v1/tenants/default';
    const m = await addMember(server.url, server.admin, 'default', `keys.${hex}@example.com`, ['requester']);
    let session: ApiClient = m.api;
    const plant = async () => {
      const key = newEd25519KeyPair('mine').publicKey;
      const r = await session.post('/api/v1/me/ssh-keys', { name: 'laptop', publicKey: key });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(await gatewayKnows(key)).toBe(true);
      return { id: r.body.id as string, key };
    };
    const gone = async (k: { id: string; key: string }, reason: string) => {
      expect(await keysOf(m.id)).toEqual([]);
      expect(await gatewayKnows(k.key)).toBe(false);
      const events = await removedKeyEvents(k.id);
      expect(events).toHaveLength(1);
      expect(events[0]!.reason).toBe(reason);
    };

    // end-sessions: the answer still counts sessions and tokens only.
    let k = await plant();
    const ended = await server.admin.post(`${T}/members/${m.id}/end-sessions`, { reason: 'lost laptop' });
    expect(ended.body).toEqual({ sessionsAndTokensEnded: 1 });
    await gone(k, 'lost laptop');

    // Disabled in the tenant.
    session = await signIn(server.url, m.email, m.password);
    k = await plant();
    const disabled = await server.admin.post(`${T}/members/${m.id}/disable`, { reason: 'left' });
    expect(disabled.status).toBe(200);
    expect(disabled.body.sessionsAndTokensEnded).toBe(1);
    await gone(k, 'left');
    expect((await server.admin.post(`${T}/members/${m.id}/enable`)).status).toBe(204);

    // Disabled everywhere.
    session = await signIn(server.url, m.email, m.password);
    k = await plant();
    const everywhere = await server.admin.post(`/api/v1/operators/${m.id}/disable`, { reason: 'contract ended' });
    expect(everywhere.status).toBe(200);
    expect(everywhere.body.sessionsAndTokensEnded).toBe(1);
    await gone(k, 'contract ended');
    expect((await server.admin.post(`/api/v1/operators/${m.id}/enable`)).status).toBe(204);

    // Sign-in reset by a platform administrator.
    session = await signIn(server.url, m.email, m.password);
    k = await plant();
    expect((await server.admin.post(`/api/v1/operators/${m.id}/reset-sign-in`)).status).toBe(201);
    await gone(k, 'sign-in reset');
    expect((await session.get('/api/v1/me')).status).toBe(401);
  });
});

describe('a person in several tenants', () => {
  it("one tenant's admin cannot end their sign-ins, tokens or keys in the others; disabling them there ends only that tenant's access", async () => {
    const A = await newTenant(`acme-${hex}`);
    const acme = A.split('/').pop()!;
    const p = await addMember(server.url, server.admin, 'default', `both.${hex}@example.com`, ['requester']);
    const joined = await server.admin.post<{ link: string }>(`${A}/members`, { email: p.email, roles: ['requester'] });
    expect((await p.api.post('/api/v1/me/invitations/accept', { token: joined.body.link.split('/invite/')[1] })).status).toBe(200);
    const token = (await p.api.post('/api/v1/tokens', { name: 'script' })).body.token as string;
    expect((await p.api.post('/api/v1/me/ssh-keys', { name: 'laptop', publicKey: newEd25519KeyPair('both').publicKey })).status).toBe(201);
    // An admin of acme only.
    const mallory = await addMember(server.url, server.admin, acme, `mallory.${hex}@example.com`, ['admin']);
    expect((await mallory.api.get('/api/v1/tenants/default/targets')).status).toBe(404);

    const ended = await mallory.api.post(`${A}/members/${p.id}/end-sessions`, { reason: 'because I can' });
    expect(ended.status).toBe(409);
    expect(ended.body.error.message).toMatch(/^this person also belongs to other tenants/);

    const disabled = await mallory.api.post(`${A}/members/${p.id}/disable`, { reason: 'left acme' });
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    expect(disabled.body.sessionsAndTokensEnded).toBe(0);
    // Out of acme; everything else of theirs stands.
    expect((await p.api.get(`${A}/targets`)).status).not.toBe(200);
    expect((await p.api.get('/api/v1/tenants/default/targets')).status).toBe(200);
    expect((await apiClient(server.url, token).get('/api/v1/tenants/default/targets')).status).toBe(200);
    expect(await keysOf(p.id)).toHaveLength(1);
    const op = await server.tb.store.db.selectFrom('operators').select('sessions_ended_at').where('id', '=', p.id).executeTakeFirstOrThrow();
    expect(op.sessions_ended_at).toBeNull();

    // A platform administrator, acting from the same tenant, still ends them everywhere.
    const everywhere = await server.admin.post(`/api/v1/tenants/default/members/${p.id}/end-sessions`, { reason: 'lost laptop' });
    expect(everywhere.status, JSON.stringify(everywhere.body)).toBe(200);
    expect((await p.api.get('/api/v1/tenants/default/targets')).status).toBe(401);
    expect(await keysOf(p.id)).toHaveLength(0);
  });
});

