/**
 * Short-lived security tokens: JWTs (EdDSA/Ed25519) signed by the tenant's JWT key, for scripts and
 * applications that get their access token for the length of a grant.
 *
 * Verifiers can check them offline against the JWKS (active + retiring keys), which alone cannot
 * see an early revocation; `introspect` (RFC 7662) also consults the store, so it reports a token
 * inactive the moment it is revoked.
 */
import { randomUUID } from 'node:crypto';
import type { JWK } from 'jose';
import type { Clock } from '../core/clock.js';
import { badRequest } from '../core/errors.js';
import { JWT_ALG } from './ca-keys.js';
import type { CaStore } from './ca-store.js';
import type { IssuedCredentials } from './issued.js';
import { validateSubject, validityWindow } from './names.js';
import { SYSTEM, type Actor, type IssuedCredential, type RevocationReason } from './types.js';

export interface SecurityTokensDeps {
  cas: CaStore;
  issued: IssuedCredentials;
  clock: Clock;
  /** `iss` of every token; a function when each tenant has its own issuer URL. */
  issuer: string | ((tenantId: string) => string);
}

export interface TokenRequest {
  tenantId: string;
  grantId: string | null;
  subject: string;
  /** OAuth scope tokens (RFC 6749 §3.3), joined with spaces into the `scope` claim. */
  scope: string[];
  audience: string | string[];
  notBefore: Date;
  notAfter: Date;
}

export interface IssuedToken {
  credentialId: string;
  token: string;
  keyId: string;
  notBefore: Date;
  notAfter: Date;
}

/** RFC 7662 introspection response. */
export type Introspection =
  | { active: false }
  | {
      active: true;
      token_type: 'Bearer';
      sub: string;
      scope: string;
      iss: string;
      aud: string | string[];
      exp: number;
      iat: number;
      nbf: number;
      jti: string;
      grant_id?: string;
    };

const INACTIVE: Introspection = { active: false };
const MAX_TOKEN = 8 * 1024;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;

export type SecurityTokens = ReturnType<typeof createSecurityTokens>;

/** Loaded on the first token: a server start needs no JOSE code. */
const jose = () => import('jose');

export function createSecurityTokens(deps: SecurityTokensDeps) {
  const issuerOf = (tenantId: string) => (typeof deps.issuer === 'function' ? deps.issuer(tenantId) : deps.issuer);
  const seconds = (d: Date) => Math.floor(+d / 1000);

  return {
    async issue(req: TokenRequest, actor: Actor = SYSTEM): Promise<IssuedToken> {
      const subject = validateSubject(req.subject);
      const scope = validateScope(req.scope);
      const audience = validateAudience(req.audience);
      const now = deps.clock.now();
      const window = validityWindow(req.notBefore, req.notAfter, now);

      const { SignJWT, importJWK } = await jose();
      const signer = await deps.cas.signer(req.tenantId, 'jwt', actor);
      const jwk = JSON.parse(signer.privateKey) as JWK;
      const key = await importJWK(jwk, JWT_ALG);
      const id = randomUUID();
      const token = await new SignJWT({ scope: scope.join(' '), ...(req.grantId ? { grant_id: req.grantId } : {}) })
        .setProtectedHeader({ alg: JWT_ALG, kid: signer.ca.keyId, typ: 'JWT' })
        .setIssuer(issuerOf(req.tenantId))
        .setSubject(subject)
        .setAudience(audience)
        .setIssuedAt(seconds(now))
        .setNotBefore(seconds(window.notBefore))
        .setExpirationTime(seconds(window.notAfter))
        .setJti(id)
        .sign(key);
      await deps.issued.record(
        { id, tenantId: req.tenantId, caId: signer.ca.id, kind: 'jwt', serial: signer.serial, grantId: req.grantId, subject, principals: scope, ...window },
        actor,
      );
      return { credentialId: id, token, keyId: signer.ca.keyId, ...window };
    },

    /** The JWKS document verifiers fetch: the active key and retiring keys still in use. */
    async jwks(tenantId: string): Promise<{ keys: JWK[] }> {
      const cas = await deps.cas.published(tenantId, 'jwt');
      return { keys: cas.map((ca) => JSON.parse(ca.publicKey) as JWK) };
    },

    /**
     * RFC 7662: `{ active: false }` for anything not currently valid (malformed, unknown or retired
     * key, bad signature, wrong issuer, not yet valid, expired, revoked); why is deliberately not said.
     */
    async introspect(tenantId: string, token: string): Promise<Introspection> {
      if (typeof token !== 'string' || token.length > MAX_TOKEN) return INACTIVE;
      const { decodeProtectedHeader, importJWK, jwtVerify } = await jose();
      let kid: unknown;
      try {
        const header = decodeProtectedHeader(token);
        if (header.alg !== JWT_ALG) return INACTIVE;
        kid = header.kid;
      } catch {
        return INACTIVE;
      }
      if (typeof kid !== 'string') return INACTIVE;
      const ca = (await deps.cas.published(tenantId, 'jwt')).find((c) => c.keyId === kid);
      if (!ca) return INACTIVE;
      const now = deps.clock.now();
      let payload;
      try {
        const key = await importJWK(JSON.parse(ca.publicKey) as JWK, JWT_ALG);
        ({ payload } = await jwtVerify(token, key, {
          issuer: issuerOf(tenantId),
          algorithms: [JWT_ALG],
          currentDate: now,
          requiredClaims: ['sub', 'jti', 'iat', 'nbf', 'exp', 'aud'],
        }));
      } catch {
        return INACTIVE;
      }
      const credential = await deps.issued.get(String(payload.jti)).catch(() => null);
      if (!credential || credential.caId !== ca.id || credential.revokedAt || +credential.notAfter <= +now) return INACTIVE;
      return {
        active: true,
        token_type: 'Bearer',
        sub: payload.sub!,
        scope: String(payload.scope ?? ''),
        iss: payload.iss!,
        aud: payload.aud!,
        exp: payload.exp!,
        iat: payload.iat!,
        nbf: payload.nbf!,
        jti: payload.jti!,
        ...(typeof payload.grant_id === 'string' ? { grant_id: payload.grant_id } : {}),
      };
    },

    /** Revokes a token early: introspection says inactive from now on. */
    revoke(credentialId: string, reason: RevocationReason = 'privilegeWithdrawn', actor: Actor = SYSTEM): Promise<IssuedCredential> {
      return deps.issued.revoke(credentialId, reason, actor);
    },
  };
}

function validateScope(scope: string[]): string[] {
  if (!Array.isArray(scope) || scope.length === 0) throw badRequest('a token needs at least one scope');
  if (scope.length > 32) throw badRequest('at most 32 scopes are allowed');
  for (const s of scope) {
    if (typeof s !== 'string' || !SCOPE_TOKEN.test(s)) {
      throw badRequest(`scope "${String(s).slice(0, 60)}" is not a valid scope token (printable ASCII, no spaces, quotes or backslashes)`);
    }
  }
  return [...new Set(scope)];
}

function validateAudience(audience: string | string[]): string | string[] {
  const list = Array.isArray(audience) ? audience : [audience];
  if (list.length === 0 || list.length > 8) throw badRequest('a token needs one to eight audiences');
  for (const a of list) {
    if (typeof a !== 'string' || a.length === 0 || a.length > 256 || /\p{Cc}/u.test(a)) {
      throw badRequest('an audience must be 1-256 printable characters');
    }
  }
  return Array.isArray(audience) ? list : audience;
}
