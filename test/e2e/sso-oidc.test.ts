/**
 * Single sign-on from the outside: bad input and attacks against the callback, each refused
 * with a clear message and with no operator, session or link created. The bad ID tokens come
 * from a hand-rolled provider (test/harness/rogue-oidc.ts) so Timebox's real validation path —
 * openid-client's issuer, audience, expiry, nonce and JWKS signature checks — does the refusing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newEd25519KeyPair } from '../../src/gateway/ed25519-keypair.js';
import { startRogueProvider, type RogueProvider } from '../harness/rogue-oidc.js';
import { addExistingMember, apiClient, ownPassword, tokenOf, type ApiClient, type Invited } from '../support/http.js';
import { browserless, configureSso, signInFootprint, startAndAuthorize } from '../support/sso.js';
import { createMember, startTestServer, type TestServer } from '../support/test-server.js';

let s: TestServer;
let rogue: RogueProvider;

beforeAll(async () => {
  s = await startTestServer();
  rogue = await startRogueProvider();
  await configureSso(s.admin, 'default', {
    issuer: rogue.issuer,
    clientId: rogue.clientId,
    clientSecret: rogue.clientSecret,
    roleMappings: [{ group: 'timebox-requesters', roles: ['requester'] }],
  });
  rogue.person = { sub: 'sub-ada', email: 'ada@example.test', groups: ['timebox-requesters'] };
});

afterAll(async () => {
  await rogue?.stop();
  await s?.close();
});

const db = () => s.tb.store.db;

/** The sentence the refusal page shows (it is HTML-escaped there). */
function pageMessage(html: string): string {
  const m = /<p id="message">([^<]*)<\/p>/.exec(html);
  return (m?.[1] ?? html).replace(/&#(\d+);/g, (_x, n: string) => String.fromCharCode(Number(n)));
}

async function refusedWithNothingCreated(run: () => Promise<{ status: number; text: string }>, status: number, message: RegExp) {
  const before = await signInFootprint(db());
  const res = await run();
  expect(res.status).toBe(status);
  expect(pageMessage(res.text)).toMatch(message);
  expect(res.text).not.toMatch(/Set-Cookie|timebox_session/);
  expect(await signInFootprint(db())).toEqual(before);
}

describe('the callback refuses', () => {
  it('a missing or unknown state', async () => {
    const b = browserless();
    await refusedWithNothingCreated(() => b.get(`${s.url}/api/v1/auth/sso/callback?code=abc`), 400, /has no state/);
    await refusedWithNothingCreated(() => b.get(`${s.url}/api/v1/auth/sso/callback?code=abc&state=made-up`), 400, /unknown, expired or was already used/);
  });

  it('an answer arriving in another browser than the one that started (login CSRF)', async () => {
    const victim = browserless();
    const attacker = browserless();
    const callback = await startAndAuthorize(attacker, s.url, 'default');
    await refusedWithNothingCreated(() => victim.get(callback), 400, /started in another browser/);
  });

  it('a replayed answer (the same code and state twice)', async () => {
    rogue.mode = 'good';
    rogue.person = { sub: 'sub-replay', email: 'replay@example.test', groups: ['timebox-requesters'] };
    const b = browserless();
    const callback = await startAndAuthorize(b, s.url, 'default');
    const browserCookie = b.jar.get('timebox_sso');
    const first = await b.get(callback);
    expect(first.status).toBe(200);
    expect(first.text).toContain('Signed in as replay@example.test');
    expect(b.jar.get('timebox_session')).toMatch(/^tb_/);
    // The attacker replays it with the browser binding cookie too: the flow is gone.
    b.jar.set('timebox_sso', browserCookie!);
    await refusedWithNothingCreated(() => b.get(callback), 400, /already used/);
    expect(rogue.redeemed).toBe(1);
  });

  for (const [mode, message] of [
    ['wrong-nonce', /nonce/],
    ['other-key', /signature/i],
    ['wrong-audience', /"aud" \(audience\)/],
    ['expired', /"exp" \(expiration time\).*past/],
  ] as const) {
    it(`an ID token with ${mode}`, async () => {
      rogue.mode = mode;
      rogue.person = { sub: `sub-${mode}`, email: `${mode}@example.test`, groups: ['timebox-requesters'] };
      const b = browserless();
      const callback = await startAndAuthorize(b, s.url, 'default');
      await refusedWithNothingCreated(() => b.get(callback), 401, message);
      expect(b.jar.has('timebox_session')).toBe(false);
    });
  }

  it('an email the provider does not vouch for (email_verified false)', async () => {
    rogue.mode = 'unverified-email';
    rogue.person = { sub: 'sub-unverified', email: 'unverified@example.test', groups: ['timebox-requesters'] };
    const b = browserless();
    const callback = await startAndAuthorize(b, s.url, 'default');
    await refusedWithNothingCreated(() => b.get(callback), 401, /does not vouch for unverified@example\.test/);
  });

  it('an email with control, bidi or invisible characters, with nothing created; a name like that is not taken either', async () => {
    rogue.mode = 'good';
    rogue.person = { sub: 'sub-eve', email: 'eve\u202egro.evil\u001b[31m@example.test', groups: ['timebox-requesters'] };
    const b = browserless();
    const callback = await startAndAuthorize(b, s.url, 'default');
    await refusedWithNothingCreated(() => b.get(callback), 401, /which is not an address Timebox accepts/);
    // Full-width letters read as another person's address: refused too, not a second account.
    rogue.person = { sub: 'sub-eve2', email: '\uff45ve@example.test', groups: ['timebox-requesters'] };
    const f = browserless();
    const fullWidth = await startAndAuthorize(f, s.url, 'default');
    await refusedWithNothingCreated(() => f.get(fullWidth), 401, /which is not an address Timebox accepts/);

    // A display name that could pass for someone else's is dropped: the address stands in.
    rogue.person = { sub: 'sub-mallory', email: 'mallory@example.test', groups: ['timebox-requesters'], name: 'Ada \u202eecivreS' };
    const m = browserless();
    expect((await m.get(await startAndAuthorize(m, s.url, 'default'))).status).toBe(200);
    const me = await apiClient(s.url, m.jar.get('timebox_session')).get('/api/v1/me');
    expect(me.body.operator).toMatchObject({ email: 'mallory@example.test', displayName: 'mallory@example.test' });
  });

  it('a provider that is down', async () => {
    const down = await startRogueProvider();
    const t = await s.admin.post('/api/v1/tenants', { slug: 'downstream', name: 'Downstream' });
    expect(t.status).toBe(201);
    await configureSso(s.admin, 'downstream', { issuer: down.issuer, clientId: down.clientId, clientSecret: down.clientSecret, roleMappings: [{ group: 'g', roles: ['requester'] }] });
    await down.stop();
    const b = browserless();
    await refusedWithNothingCreated(() => b.get(`${s.url}/api/v1/auth/sso/downstream/start`), 502, /could not reach the identity provider/);
    // The refusal is a page of its own: it may not be framed by another site.
    const page = await fetch(`${s.url}/api/v1/auth/sso/downstream/start`, { redirect: 'manual' });
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('linking an existing person', () => {
  it("never lets another tenant's provider take over a person that tenant does not have", async () => {
    // Frank belongs to default only; tenant "beta" has its own provider, which asserts his email.
    await createMember(s.tb, 'default', 'frank@example.test', ['approver']);
    expect((await s.admin.post('/api/v1/tenants', { slug: 'beta', name: 'Beta' })).status).toBe(201);
    const betaIdp = await startRogueProvider();
    try {
      await configureSso(s.admin, 'beta', { issuer: betaIdp.issuer, clientId: betaIdp.clientId, clientSecret: betaIdp.clientSecret, roleMappings: [{ group: 'all', roles: ['owner'] }] });
      betaIdp.person = { sub: 'beta-frank', email: 'frank@example.test', groups: ['all'] };
      const b = browserless();
      const callback = await startAndAuthorize(b, s.url, 'beta');
      await refusedWithNothingCreated(() => b.get(callback), 403, /cannot be linked to a Timebox account: ask an admin of the tenant to add frank@example\.test/);
    } finally {
      await betaIdp.stop();
    }
  });

  it('links a member of the tenant whose email the provider vouches for; the session reaches that tenant only', async () => {
    const grace = await createMember(s.tb, 'default', 'grace@example.test', ['auditor']);
    // Her membership of "beta" needs her consent: she accepts its invitation, signed in.
    await addExistingMember(s.admin, 'beta', grace.api, 'grace@example.test', ['requester']);
    rogue.mode = 'good';
    rogue.person = { sub: 'sub-grace', email: 'grace@example.test', groups: ['timebox-requesters'] };
    const b = browserless();
    const res = await b.get(await startAndAuthorize(b, s.url, 'default'));
    expect(res.status).toBe(200);
    const api = apiClient(s.url, b.jar.get('timebox_session'));
    const me = await api.get('/api/v1/me');
    expect(me.body.operator.email).toBe('grace@example.test');
    // The provider of "default" vouched for her: her "beta" membership is out of this session's reach.
    expect(me.body.memberships.map((m: { tenant: { slug: string } }) => m.tenant.slug)).toEqual(['default']);
    expect(me.body.memberships[0].roles).toEqual(['requester']);
    expect((await api.get('/api/v1/tenants/beta/targets')).status).toBe(404);
    expect((await api.get('/api/v1/tenants/default/targets')).status).toBe(200);
    // An API token made from this session is confined the same way.
    const token = await api.post('/api/v1/tokens', { name: 'from sso' });
    expect(token.status).toBe(201);
    const viaToken = apiClient(s.url, token.body.token);
    expect((await viaToken.get('/api/v1/tenants/beta/targets')).status).toBe(404);
    expect((await viaToken.get('/api/v1/tenants')).body.items.map((t: { slug: string }) => t.slug)).toEqual(['default']);
    const link = await db().selectFrom('sso_identities').select(['subject']).where('subject', '=', 'sub-grace').execute();
    expect(link).toHaveLength(1);
  });
});

describe('a session confined to one tenant by single sign-on', () => {
  it("cannot change the person's whole account: second factor, SSH keys, other tokens, other tenants", async () => {
    // Hedy belongs to default and beta; her password session made a token and registered a key.
    const hedy = await createMember(s.tb, 'default', 'hedy@example.test', ['requester']);
    await addExistingMember(s.admin, 'beta', hedy.api, 'hedy@example.test', ['requester']);
    const script = await hedy.api.post('/api/v1/tokens', { name: 'script' });
    expect(script.status).toBe(201);
    const key = await hedy.api.post('/api/v1/me/ssh-keys', { name: 'laptop', publicKey: newEd25519KeyPair('laptop').publicKey });
    expect(key.status).toBe(201);

    // The provider of default (run by default's admins) signs her in.
    rogue.mode = 'good';
    rogue.person = { sub: 'sub-hedy', email: 'hedy@example.test', groups: ['timebox-requesters'] };
    const b = browserless();
    expect((await b.get(await startAndAuthorize(b, s.url, 'default'))).status).toBe(200);
    const sso = apiClient(s.url, b.jar.get('timebox_session'));

    const mfa = await sso.post('/api/v1/me/mfa/totp', {});
    expect(mfa.status).toBe(403);
    expect(mfa.body.error.message).toMatch(/^Managing an authenticator app concerns your whole Timebox account, but this session signed in through single sign-on reaches one tenant only/);
    expect((await sso.get('/api/v1/me/ssh-keys')).status).toBe(403);
    expect((await sso.call('DELETE', `/api/v1/me/ssh-keys/${key.body.id}`)).status).toBe(403);
    // Her password session's token is out of reach; a token this session makes is its own to manage.
    expect((await sso.call('DELETE', `/api/v1/tokens/${script.body.id}`)).status).toBe(404);
    const own = await sso.post('/api/v1/tokens', { name: 'from sso' });
    expect((await sso.get('/api/v1/tokens')).body.items.map((t: { name: string }) => t.name)).toEqual(['from sso']);
    expect((await sso.call('DELETE', `/api/v1/tokens/${own.body.id}`)).status).toBe(204);

    // An invitation to another tenant is hers to accept with her password, not through default's provider.
    expect((await s.admin.post('/api/v1/tenants', { slug: 'gamma', name: 'Gamma' })).status).toBe(201);
    const invited = await s.admin.post<Invited>('/api/v1/tenants/gamma/members', { email: 'hedy@example.test', roles: ['requester'] });
    const viaSso = await sso.post('/api/v1/me/invitations/accept', { token: tokenOf(invited.body.link) });
    expect(viaSso.status).toBe(403);
    expect(viaSso.body.error.message).toMatch(/reaches one tenant only, and the invitation is to another/);
    expect((await hedy.api.post('/api/v1/me/invitations/accept', { token: tokenOf(invited.body.link) })).status).toBe(200);

    // Everything her password session set up still stands, and her password still signs her in.
    expect((await apiClient(s.url, script.body.token).get('/api/v1/tenants/beta/targets')).status).toBe(200);
    expect((await hedy.api.get('/api/v1/me/ssh-keys')).body.items).toHaveLength(1);
    const again = await apiClient(s.url).post('/api/v1/auth/login', { email: 'hedy@example.test', password: hedy.password });
    expect(again.status).toBe(200);
  });
});

describe('the CLI handoff', () => {
  it('refuses a one-time code that is made up, or presented with the wrong verifier', async () => {
    const anon = apiClient(s.url);
    const made = await anon.post('/api/v1/auth/sso/cli/exchange', { code: 'x'.repeat(43), codeVerifier: 'v'.repeat(43) });
    expect(made.status).toBe(401);
    expect(made.body.error.message).toMatch(/unknown, expired, already used or not yours/);
  });

  it('refuses a redirect that is not a loopback address', async () => {
    const res = await apiClient(s.url).post('/api/v1/auth/sso/default/cli', { redirectUri: 'https://evil.example/cb', codeChallenge: 'a'.repeat(43) });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/127\.0\.0\.1/);
  });
});

describe('settings', () => {
  it('never return the client secret, and refuse an issuer that does not answer discovery', async () => {
    const got = await s.admin.get('/api/v1/tenants/default/sso');
    expect(got.status).toBe(200);
    expect(got.body.clientSecretSet).toBe(true);
    expect(JSON.stringify(got.body)).not.toContain(rogue.clientSecret);
    const bad = await s.admin.call('PUT', '/api/v1/tenants/default/sso', { issuer: 'http://127.0.0.1:9/', clientId: 'x', clientSecret: 'y' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/did not answer OpenID discovery/);
    const plain = await s.admin.call('PUT', '/api/v1/tenants/default/sso', { issuer: 'http://idp.example.com/', clientId: 'x', clientSecret: 'y' });
    expect(plain.status).toBe(400);
    expect(plain.body.error.message).toMatch(/must use https/);
    const row = await db().selectFrom('tenant_sso').select('client_secret_enc').executeTakeFirstOrThrow();
    expect(row.client_secret_enc).not.toContain(rogue.clientSecret);
  });
});

describe('an invitation into a tenant that requires single sign-on', () => {
  // A server of its own: its tenant's owner turns the requirement on, and the rate-limit windows
  // of the sign-ins above stay out of the way.
  let t: TestServer;
  let strictIdp: RogueProvider;
  let owner: ApiClient;
  const T = 'strict';

  /** A session begun through the tenant's provider, for `person`. */
  async function ssoSession(person: RogueProvider['person']): Promise<ApiClient> {
    strictIdp.person = person;
    const b = browserless();
    const res = await b.get(await startAndAuthorize(b, t.url, T));
    expect(res.status, pageMessage(res.text)).toBe(200);
    return apiClient(t.url, b.jar.get('timebox_session'));
  }

  beforeAll(async () => {
    t = await startTestServer();
    strictIdp = await startRogueProvider();
    expect((await t.admin.post('/api/v1/tenants', { slug: T, name: 'Strict' })).status).toBe(201);
    const idp = {
      issuer: strictIdp.issuer,
      clientId: strictIdp.clientId,
      clientSecret: strictIdp.clientSecret,
      roleMappings: [
        { group: 'strict-owners', roles: ['owner'] },
        { group: 'strict-staff', roles: ['requester'] },
      ],
    };
    await configureSso(t.admin, T, idp);
    owner = await ssoSession({ sub: 'strict-olga', email: 'olga@example.test', groups: ['strict-owners'] });
    await configureSso(owner, T, { ...idp, requireSso: true });
  });
  afterAll(async () => {
    await strictIdp?.stop();
    await t?.close();
  });

  it('accepted from a password session, ends that session: the tenant is reached through its provider only', async () => {
    const pat = await createMember(t.tb, 'default', 'pat@example.test', ['requester']);
    const invited = await owner.post<Invited>(`/api/v1/tenants/${T}/members`, { email: pat.email, roles: ['requester'] });
    expect(invited.status).toBe(201);
    const accepted = await pat.api.post('/api/v1/me/invitations/accept', { token: tokenOf(invited.body.link) });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body.tenant.slug).toBe(T);
    // The password session that accepted reaches nothing more, and mints no token.
    expect((await pat.api.get(`/api/v1/tenants/${T}/targets`)).status).toBe(401);
    expect((await pat.api.post('/api/v1/tokens', { name: 'after joining' })).status).toBe(401);
    const event = await t.tb.store.db.selectFrom('audit_events').select('after').where('action', '=', 'invitation.accepted').where('actor_id', '=', pat.id).executeTakeFirstOrThrow();
    expect(event.after).toMatchObject({ endedPasswordSessions: 1 });
    const login = await apiClient(t.url).post('/api/v1/auth/login', { email: pat.email, password: pat.password });
    expect(login.status).toBe(403);
    expect(login.body.error.details.sso).toBe('required');
    // Now a member, she is linked at her first sign-in through the provider and works there.
    const viaSso = await ssoSession({ sub: 'strict-pat', email: pat.email, groups: ['strict-staff'] });
    expect((await viaSso.get(`/api/v1/tenants/${T}/targets`)).status).toBe(200);
  });

  it('accepted signed out with a new password, gives no password sign-in to the tenant', async () => {
    const email = 'nova@example.test';
    const invited = await owner.post<Invited>(`/api/v1/tenants/${T}/members`, { email, roles: ['requester'] });
    expect(invited.status).toBe(201);
    const password = ownPassword();
    expect((await apiClient(t.url).post('/api/v1/invitations/accept', { token: tokenOf(invited.body.link), password })).status).toBe(200);
    const login = await apiClient(t.url).post('/api/v1/auth/login', { email, password });
    expect(login.status).toBe(403);
    expect(login.body.error.details.sso).toBe('required');
    const viaSso = await ssoSession({ sub: 'strict-nova', email, groups: ['strict-staff'] });
    expect((await viaSso.get(`/api/v1/tenants/${T}/targets`)).status).toBe(200);
  });
});
