/**
 * Security tokens: verified offline with jose against the served JWKS, and through RFC 7662
 * introspection, which also sees early revocation. Time is a fake clock: jose and the store
 * both read it, so expiry is exact and instant.
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify, errors } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeClock } from '../../src/core/clock.js';
import { credentialKit, ISSUER, type CredentialKit } from './support.js';

const clock = fakeClock('2026-05-01T09:00:00.000Z');
let kit: CredentialKit;
let tenantId: string;
const AUD = 'https://api.internal.example';

async function issue(minutes = 30, t = tenantId) {
  return kit.tokens.issue({
    tenantId: t,
    grantId: randomUUID(),
    subject: 'deploy-bot',
    scope: ['deploy:write', 'logs:read'],
    audience: AUD,
    notBefore: clock.now(),
    notAfter: new Date(+clock.now() + minutes * 60_000),
  });
}

/** What a resource server does offline: fetch the JWKS, verify signature, issuer, audience, times. */
async function verifyOffline(token: string, t = tenantId) {
  const jwks = createLocalJWKSet(await kit.tokens.jwks(t));
  return jwtVerify(token, jwks, { issuer: ISSUER, audience: AUD, currentDate: clock.now() });
}

beforeAll(async () => {
  kit = await credentialKit(clock);
  tenantId = await kit.tenant();
});
afterAll(async () => {
  await kit?.close();
});

describe('security tokens', () => {
  it('verifies against the served JWKS during validity, with the claims of the grant', async () => {
    const issued = await issue(30);
    const { payload, protectedHeader } = await verifyOffline(issued.token);
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', kid: issued.keyId, typ: 'JWT' });
    expect(payload).toMatchObject({
      sub: 'deploy-bot',
      scope: 'deploy:write logs:read',
      iss: ISSUER,
      aud: AUD,
      jti: issued.credentialId,
      iat: +clock.now() / 1000,
      nbf: +clock.now() / 1000,
      exp: +clock.now() / 1000 + 1800,
    });
    const jwks = await kit.tokens.jwks(tenantId);
    expect(jwks.keys).toHaveLength(1);
    expect(JSON.stringify(jwks)).not.toMatch(/"d"/); // public keys only

    expect(await kit.tokens.introspect(tenantId, issued.token)).toEqual({
      active: true,
      token_type: 'Bearer',
      sub: 'deploy-bot',
      scope: 'deploy:write logs:read',
      iss: ISSUER,
      aud: AUD,
      exp: payload.exp,
      iat: payload.iat,
      nbf: payload.nbf,
      jti: issued.credentialId,
      grant_id: payload.grant_id,
    });
  });

  it('is inactive after early revocation (offline verification cannot see that: introspect)', async () => {
    const issued = await issue(30);
    expect((await kit.tokens.introspect(tenantId, issued.token)).active).toBe(true);
    await kit.tokens.revoke(issued.credentialId, 'privilegeWithdrawn');
    expect(await kit.tokens.introspect(tenantId, issued.token)).toEqual({ active: false });
  });

  it('is inactive and fails verification after expiry', async () => {
    const issued = await issue(5);
    clock.advance(5 * 60_000 - 1000);
    expect((await kit.tokens.introspect(tenantId, issued.token)).active).toBe(true);
    clock.advance(1000);
    expect(await kit.tokens.introspect(tenantId, issued.token)).toEqual({ active: false });
    await expect(verifyOffline(issued.token)).rejects.toBeInstanceOf(errors.JWTExpired);
  });

  it('refuses a tampered token (payload changed, signature kept)', async () => {
    const issued = await issue(30);
    const [header, payload, signature] = issued.token.split('.') as [string, string, string];
    const claims = decodeJwt(issued.token);
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url');
    const tampered = [header, forged, signature].join('.');
    expect(payload).not.toBe(forged);
    await expect(verifyOffline(tampered)).rejects.toBeInstanceOf(errors.JWSSignatureVerificationFailed);
    expect(await kit.tokens.introspect(tenantId, tampered)).toEqual({ active: false });
  });

  it('says inactive for malformed tokens, other tenants and wrong issuers', async () => {
    for (const junk of ['', 'abc', 'a.b.c', `${'x'.repeat(9000)}`, 'eyJhbGciOiJub25lIn0.e30.']) {
      expect(await kit.tokens.introspect(tenantId, junk)).toEqual({ active: false });
    }
    const other = await kit.tenant();
    const foreign = await issue(30, other);
    expect(await kit.tokens.introspect(tenantId, foreign.token)).toEqual({ active: false });
    await expect(verifyOffline(foreign.token)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
  });

  it('after rotation: a retiring key is still accepted, a retired key is refused', async () => {
    const t = await kit.tenant();
    const old = await issue(60, t);
    const { active } = await kit.cas.rotate(t, 'jwt');
    const fresh = await issue(60, t);
    expect(fresh.keyId).toBe(active.keyId);
    expect(fresh.keyId).not.toBe(old.keyId);

    // Retiring: published next to the new key while its token lives.
    expect((await kit.tokens.jwks(t)).keys.map((k) => k.kid).sort()).toEqual([old.keyId, fresh.keyId].sort());
    await expect(verifyOffline(old.token, t)).resolves.toBeDefined();
    expect((await kit.tokens.introspect(t, old.token)).active).toBe(true);

    // Its last token ends early: the old key is retired and no longer published.
    const longer = await kit.cas.published(t, 'jwt');
    expect(longer.find((c) => c.keyId === old.keyId)?.trustedUntil).toEqual(old.notAfter);
    await kit.tokens.revoke(old.credentialId, 'superseded');
    expect((await kit.tokens.jwks(t)).keys.map((k) => k.kid)).toEqual([fresh.keyId]);
    const retired = (await kit.cas.list(t, 'jwt')).find((c) => c.keyId === old.keyId);
    expect(retired?.status).toBe('retired');
    await expect(verifyOffline(old.token, t)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(await kit.tokens.introspect(t, old.token)).toEqual({ active: false });
    await expect(verifyOffline(fresh.token, t)).resolves.toBeDefined();
  });

  it('records every issue and revocation in the audit log, without the token', async () => {
    const issued = await issue(30);
    await kit.tokens.revoke(issued.credentialId);
    const events = await kit.store.db
      .selectFrom('audit_events')
      .select(['action', 'subject_id', 'after'])
      .where('subject_id', '=', issued.credentialId)
      .orderBy('seq')
      .execute();
    expect(events.map((e) => e.action)).toEqual(['credential.issued', 'credential.revoked']);
    expect(JSON.stringify(events)).not.toContain(issued.token.split('.')[2]);
  });
});
