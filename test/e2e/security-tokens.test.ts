/**
 * Security tokens from grants, end to end through the API of a real server: jose verifies the
 * token against the JWKS fetched from Timebox's public endpoint during the grant; a resource
 * server with an API token introspects it (RFC 7662, form and JSON) as active, then inactive after
 * an early revoke (which offline verification cannot see); a tampered token is refused both ways;
 * at the grant's end (the shiftable clock: tokens are judged by the server's clock and by
 * `currentDate` in jose) it is inactive and the grant ends by itself.
 */
import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsDb } from '../../src/credentials/types.js';
import { apiClient, type ApiClient } from '../support/http.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
const AUDIENCE = 'https://deploy-api.example.test';
let server: TestServer;
let carol: ApiClient;
let resourceServer: ApiClient;
let resourceToken: string;
let targetId: string;
const email = `carol.${randomBytes(3).toString('hex')}@example.com`;

const publishedKeys = async () => ((await (await fetch(new URL(`${T}/.well-known/jwks.json`, server.url))).json()) as { keys: Array<{ kid: string }> }).keys;
const jwks = () => createRemoteJWKSet(new URL(`${T}/.well-known/jwks.json`, server.url));
// The public URL, as a verifier reads it in the docs: the issuer, whatever address the server listens on.
const ISSUER = 'https://timebox.example.test';
const verify = (token: string, at = server.clock.now()) => jwtVerify(token, jwks(), { issuer: ISSUER, audience: AUDIENCE, currentDate: at });

/** A resource server's call, as a form post (RFC 7662 §2.1) with its API token. */
async function introspectForm(token: string): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(`${T}/tokens/introspect`, server.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${resourceToken}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
  });
  return { status: res.status, body: await res.json() };
}
const introspectJson = (token: string) => resourceServer.post(`${T}/tokens/introspect`, { token });

const request = (body: Record<string, unknown>) =>
  carol.post(`${T}/requests`, { targetId, durationSeconds: 900, reason: 'CHG-9 run the deploy job', ...body });

async function counts() {
  const db = credentialsDb(server.tb.store.db);
  const n = async (table: 'grants' | 'jit_accounts' | 'access_requests' | 'issued_credentials') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { grants: await n('grants'), accounts: await n('jit_accounts'), requests: await n('access_requests'), issued: await n('issued_credentials') };
}

beforeAll(async () => {
  server = await startTestServer({ env: { TIMEBOX_PUBLIC_URL: `${ISSUER}/` } });
  const added = await server.admin.post(`${T}/targets`, {
    name: 'deploy-api',
    kind: 'security-token',
    config: { audience: AUDIENCE, scopes: ['deploy:write', 'logs:read'] },
  });
  expect(added.status).toBe(201);
  targetId = added.body.target.id;
  expect(
    (await server.admin.post(`${T}/policies`, { name: 'tokens', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 900 })).status,
  ).toBe(201);
  carol = await addOperator(server, email, ['requester']);
  // The resource server: an operator with read access and a personal API token (not a session).
  const rs = await addOperator(server, `deploy-api.${randomBytes(3).toString('hex')}@example.com`, ['auditor']);
  const created = await rs.post<{ token: string }>('/api/v1/tokens', { name: 'deploy-api introspection' });
  expect(created.status).toBe(201);
  resourceToken = created.body.token;
  resourceServer = apiClient(server.url, resourceToken);
});

afterAll(async () => {
  await server?.close();
});

describe('a grant issues a security token valid exactly for the grant', () => {
  let grantId: string;
  let token: string;

  it('jose verifies it against the public JWKS; introspection says active', async () => {
    const res = await request({ entitlements: ['deploy:write', 'logs:read'] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: 'active', username: email });
    grantId = res.body.id;
    const cred = await carol.post(`${T}/grants/${grantId}/credential`);
    expect(cred.status).toBe(200);
    expect(cred.body).toMatchObject({ username: email, password: null });
    token = cred.body.token;
    expect((await carol.post(`${T}/grants/${grantId}/credential`)).status).toBe(409);

    const { payload, protectedHeader } = await verify(token);
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: 'JWT' });
    expect(payload).toMatchObject({
      iss: ISSUER,
      sub: email,
      aud: AUDIENCE,
      scope: 'deploy:write logs:read',
      grant_id: grantId,
      nbf: Math.floor(+new Date(res.body.startsAt) / 1000),
      exp: Math.floor(+new Date(res.body.expiresAt) / 1000),
    });

    const jwksRes = await fetch(new URL(`${T}/.well-known/jwks.json`, server.url));
    expect(jwksRes.headers.get('cache-control')).toBe('public, max-age=60');
    expect(JSON.stringify(await jwksRes.json())).not.toMatch(/"d"/);

    const form = await introspectForm(token);
    expect(form).toMatchObject({ status: 200, body: { active: true, sub: email, scope: 'deploy:write logs:read', jti: payload.jti, grant_id: grantId } });
    expect((await introspectJson(token)).body).toEqual(form.body);
  });

  it('refuses a tampered token both offline and by introspection', async () => {
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = decodeJwt(token);
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'deploy:write logs:read admin' })).toString('base64url');
    const tampered = [`${header}.${forged}.${signature}`, `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BA' : 'AA'}`];
    for (const t of tampered) {
      await expect(verify(t)).rejects.toBeInstanceOf(errors.JWSSignatureVerificationFailed);
      expect((await introspectForm(t)).body).toEqual({ active: false });
    }
    expect((await introspectJson('not-a-jwt')).body).toEqual({ active: false });
  });

  it('after an early revoke introspection says inactive at once (offline verification cannot see it)', async () => {
    const ended = await carol.post(`${T}/grants/${grantId}/revoke`, { reason: 'job finished' });
    expect(ended.body).toMatchObject({ state: 'revoked', endReason: 'job finished' });
    expect((await introspectForm(token)).body).toEqual({ active: false });
    await expect(verify(token)).resolves.toBeTruthy();
  });

  it('at the end of the grant it expires by itself: inactive, refused by jose, the grant ended', async () => {
    const res = await request({ entitlements: ['logs:read'], durationSeconds: 600 });
    const cred = await carol.post(`${T}/grants/${res.body.id}/credential`);
    expect((await introspectJson(cred.body.token)).body.active).toBe(true);

    server.clock.shift(600_000);
    await server.tb.scheduler.drain();
    expect((await carol.get(`${T}/grants/${res.body.id}`)).body).toMatchObject({ state: 'revoked', endReason: 'expired' });
    expect((await introspectJson(cred.body.token)).body).toEqual({ active: false });
    await expect(verify(cred.body.token)).rejects.toBeInstanceOf(errors.JWTExpired);
    // Expired, not revoked: nothing to list anywhere.
    const issued = await credentialsDb(server.tb.store.db).selectFrom('issued_credentials').selectAll().where('grant_id', '=', res.body.id).execute();
    expect(issued).toEqual([expect.objectContaining({ revoked_at: null })]);
  });

  it('an admin rotates the key: both keys are published while tokens of the old one live; tokens of both verify', async () => {
    const before = await request({ entitlements: ['logs:read'] });
    const oldToken = (await carol.post(`${T}/grants/${before.body.id}/credential`)).body.token;
    expect((await carol.post(`${T}/ca/jwt/rotate`)).status).toBe(403);
    const rotated = await server.admin.post(`${T}/ca/jwt/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.retiring).toMatchObject({ status: 'retiring', keyId: decodeProtectedHeader(oldToken).kid });
    const after = await request({ entitlements: ['logs:read'] });
    const newToken = (await carol.post(`${T}/grants/${after.body.id}/credential`)).body.token;

    const keys = (await publishedKeys()).map((k) => k.kid);
    expect(keys).toEqual([rotated.body.active.keyId, rotated.body.retiring.keyId]);
    for (const t of [oldToken, newToken]) {
      await expect(verify(t)).resolves.toBeTruthy();
      expect((await introspectJson(t)).body.active).toBe(true);
    }
    // Once the old key's last token has ended, the key is no longer published.
    await carol.post(`${T}/grants/${before.body.id}/revoke`, { reason: 'rotated' });
    const left = (await publishedKeys()).map((k) => k.kid);
    expect(left).toEqual([rotated.body.active.keyId]);
    await carol.post(`${T}/grants/${after.body.id}/revoke`, { reason: 'done' });
  });

  it('introspection needs a signed-in caller of the tenant', async () => {
    const anonymous = await apiClient(server.url).post(`${T}/tokens/introspect`, { token });
    expect(anonymous.status).toBe(401);
    const missing = await introspectJson('');
    expect(missing.status).toBe(400);
  });

  it('an introspection form too large, or not UTF-8, is refused with its own reason', async () => {
    const post = async (body: Buffer | string) => {
      const res = await fetch(new URL(`${T}/tokens/introspect`, server.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${resourceToken}`, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const big = await post(`token=${'a'.repeat(20 * 1024)}`);
    expect(big.status).toBe(413);
    expect(big.body.error.message).toBe('a form body is larger than 16 KiB');
    // Percent-encoded Latin-1, and raw bytes that are not UTF-8: refused, not read as U+FFFD.
    const escaped = await post('token=caf%E9');
    expect(escaped.status).toBe(400);
    expect(escaped.body.error.details.issues).toEqual([{ path: 'body.token', message: 'is not valid UTF-8 text (after percent-decoding)' }]);
    const raw = await post(Buffer.concat([Buffer.from('token=caf'), Buffer.from([0xe9])]));
    expect(raw.status).toBe(400);
    expect(raw.body.error.details.issues).toEqual([{ path: 'body', message: 'is not valid UTF-8 text' }]);
  });
});

describe('bad input is a 400 that creates nothing', () => {
  it.each([
    ['a public key (tokens are bearer tokens)', { entitlements: ['logs:read'], publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2zB4E7 me' }, /takes no public key/],
    ['a scope with a space', { entitlements: ['logs read'] }, /scope "logs read" is not a valid scope token/],
    ['a scope the target does not offer', { entitlements: ['admin:all'] }, /no entitlement named "admin:all"/],
  ])('refuses %s', async (_what, body, message) => {
    const before = await counts();
    const res = await request(body);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
    expect(await counts()).toEqual(before);
  });
});

describe('the issuer without a public URL', () => {
  it("is the installation's own name, the same after a restart on another port and for every replica", async () => {
    const bare = await startTestServer();
    try {
      const added = await bare.admin.post(`${T}/targets`, { name: 'deploy-api', kind: 'security-token', config: { audience: AUDIENCE, scopes: ['logs:read'] } });
      await bare.admin.post(`${T}/policies`, { name: 'tokens', targetId: added.body.target.id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 900 });
      const dave = await addOperator(bare, `dave.${randomBytes(3).toString('hex')}@example.com`, ['requester']);
      const grant = await dave.post(`${T}/requests`, { targetId: added.body.target.id, entitlements: ['logs:read'], durationSeconds: 900, reason: 'CHG-10 read the logs' });
      const token = (await dave.post(`${T}/grants/${grant.body.id}/credential`)).body.token as string;
      const installation = await bare.tb.store.db.selectFrom('settings').select('value').where('key', '=', 'installation_id').executeTakeFirstOrThrow();
      // Not the address it listens on: that changes with a restart or between replicas.
      const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iss: string };
      expect(payload.iss).toBe(`urn:timebox:${String(installation.value)}`);
    } finally {
      await bare.close();
    }
  });
});
