/**
 * Bearer credentials in `api_tokens`: browser sessions (kind 'session', 12 h, with a CSRF token)
 * and API tokens (kind 'api', optional expiry). Only SHA-256 hashes are stored: the tokens carry
 * 256 random bits, so an unsalted fast hash is enough and allows lookup by hash.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { generateToken, sha256Hex } from '../secrets/password.js';
import type { Database } from '../store/schema.js';
import { inTransaction, type Actor } from './operators.js';

export const TOKEN_PREFIX = 'tb_';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** last_used_at is informative; writing it on every request would double the write load. */
const LAST_USED_RESOLUTION_MS = 60_000;
const MAX_TOKEN_LENGTH = 128;

export type TokenKind = 'api' | 'session';

export interface Principal {
  operatorId: string;
  email: string;
  displayName: string;
  platformAdmin: boolean;
  tokenId: string;
  kind: TokenKind;
  /** When this session or token stops working (null: an API token without expiry). */
  expiresAt: Date | null;
  /** Begun through this tenant's single sign-on: reaches that tenant only, never platform powers. */
  ssoTenantId: string | null;
  /** The password was set by someone else: only changing it, /me and signing out are allowed. */
  passwordChangeRequired: boolean;
}

/** A tenant and the principal's membership in it (roles null: not a member). */
export interface TenantMembershipRow {
  id: string;
  slug: string;
  name: string;
  roles: string[] | null;
  disabled_at: Date | null;
}

/** Which tokens a caller reaches: all of the person's, or (single sign-on) those of one tenant. */
export type TokenScope = Pick<Principal, 'ssoTenantId'>;

export interface ApiTokenView {
  id: string;
  name: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export interface TokensDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  clock: Clock;
  newId?: () => string;
}

type Db = Kysely<Database>;

const newSecret = () => TOKEN_PREFIX + generateToken(32);

/** Compares a presented CSRF token with the stored hash in constant time. */
export function csrfMatches(storedHash: string | null, presented: string | undefined): boolean {
  if (!storedHash || !presented || presented.length > MAX_TOKEN_LENGTH) return false;
  const a = Buffer.from(sha256Hex(presented), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createTokens(deps: TokensDeps) {
  const newId = deps.newId ?? randomUUID;
  const { audit, clock } = deps;

  /** A new browser session; the caller audits the sign-in in the same transaction. */
  async function createSession(operatorId: string, db: Db = deps.db) {
    const token = newSecret();
    const csrfToken = generateToken(32);
    const now = clock.now();
    const row = {
      id: newId(),
      operator_id: operatorId,
      name: 'session',
      kind: 'session' as const,
      token_hash: sha256Hex(token),
      csrf_hash: sha256Hex(csrfToken),
      created_at: now,
      expires_at: new Date(now.getTime() + SESSION_TTL_MS),
    };
    await db.insertInto('api_tokens').values(row).execute();
    return { id: row.id, token, csrfToken, expiresAt: row.expires_at };
  }

  /** The token is returned here only; afterwards only its hash exists. */
  async function createApiToken(input: { operatorId: string; name: string; expiresAt: Date | null; ssoTenantId?: string | null }, actor: Actor, db: Db = deps.db) {
    const token = newSecret();
    const row = {
      id: newId(),
      operator_id: input.operatorId,
      name: input.name.trim(),
      kind: 'api' as const,
      token_hash: sha256Hex(token),
      csrf_hash: null,
      created_at: clock.now(),
      expires_at: input.expiresAt,
      // A token made from a single sign-on session is confined like the session.
      sso_tenant_id: input.ssoTenantId ?? null,
    };
    await inTransaction(db, async (tx) => {
      await tx.insertInto('api_tokens').values(row).execute();
      await audit.append(tx, {
        tenantId: null,
        actor,
        action: 'token.created',
        subject: { type: 'token', id: row.id },
        after: { operatorId: row.operator_id, name: row.name, expiresAt: row.expires_at },
      });
    });
    return { id: row.id, name: row.name, token, expiresAt: row.expires_at, createdAt: row.created_at };
  }

  /** Live (not revoked, not expired) API tokens of one operator, newest first; no secrets. */
  /** `within`: a session confined to one tenant by single sign-on sees only the tokens confined there too. */
  async function listApiTokens(operatorId: string, within: TokenScope = { ssoTenantId: null }, db: Db = deps.db): Promise<ApiTokenView[]> {
    let q = db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'created_at', 'expires_at', 'last_used_at'])
      .where('operator_id', '=', operatorId)
      .where('kind', '=', 'api');
    if (within.ssoTenantId !== null) q = q.where('sso_tenant_id', '=', within.ssoTenantId);
    const rows = await q
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', clock.now())]))
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, expiresAt: r.expires_at, lastUsedAt: r.last_used_at }));
  }

  /**
   * Revokes one of the operator's own tokens or sessions. False when there is no such token
   * of theirs (someone else's token is indistinguishable from a missing one), or one outside
   * `within` (a session confined to one tenant reaches only the tokens confined there too).
   */
  async function revoke(tokenId: string, operatorId: string, actor: Actor, within: TokenScope = { ssoTenantId: null }, db: Db = deps.db): Promise<boolean> {
    return inTransaction(db, async (tx) => {
      let q = tx
        .updateTable('api_tokens')
        .set({ revoked_at: clock.now() })
        .where('id', '=', tokenId)
        .where('operator_id', '=', operatorId)
        .where('revoked_at', 'is', null);
      if (within.ssoTenantId !== null) q = q.where('sso_tenant_id', '=', within.ssoTenantId);
      const row = await q
        .returning(['kind', 'name'])
        .executeTakeFirst();
      if (!row) return false;
      await audit.append(tx, {
        tenantId: null,
        actor,
        action: row.kind === 'session' ? 'auth.logout' : 'token.revoked',
        subject: { type: row.kind === 'session' ? 'session' : 'token', id: tokenId },
        after: { operatorId, name: row.name },
      });
      return true;
    });
  }

  /**
   * The principal behind a token plus the session's CSRF hash; null if unusable for any reason.
   * With `tenantSlug` (a route under a tenant), the same statement reads that tenant and the
   * principal's membership in it, so a tenant call costs one round trip less; `tenant` is then
   * null when no tenant has that slug.
   */
  async function resolve(
    token: string,
    db: Db = deps.db,
    tenantSlug?: string,
  ): Promise<{ principal: Principal; csrfHash: string | null; tenant?: TenantMembershipRow | null } | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > MAX_TOKEN_LENGTH) return null;
    // One text whether or not a tenant is asked for (a null slug matches no tenant).
    const row = await db
      .selectFrom('api_tokens as t')
      .innerJoin('operators as o', 'o.id', 't.operator_id')
      .leftJoin('tenants as tn', (j) => j.on('tn.slug', '=', tenantSlug ?? null))
      .leftJoin('memberships as tm', (j) => j.onRef('tm.tenant_id', '=', 'tn.id').onRef('tm.operator_id', '=', 'o.id'))
      .select(['t.id', 't.kind', 't.csrf_hash', 't.expires_at', 't.revoked_at', 't.last_used_at', 't.sso_tenant_id'])
      .select(['o.id as operator_id', 'o.email', 'o.display_name', 'o.platform_admin', 'o.disabled', 'o.password_change_required'])
      .select(['tn.id as tenant_id', 'tn.slug as tenant_slug', 'tn.name as tenant_name', 'tm.roles as tenant_roles', 'tm.disabled_at as tenant_disabled_at'])
      .where('t.token_hash', '=', sha256Hex(token))
      .executeTakeFirst();
    const now = clock.now();
    if (!row || row.revoked_at || row.disabled || (row.expires_at && row.expires_at <= now)) return null;
    if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() >= LAST_USED_RESOLUTION_MS) {
      await db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
    }
    const principal: Principal = {
      operatorId: row.operator_id,
      email: row.email,
      displayName: row.display_name,
      platformAdmin: row.platform_admin && row.sso_tenant_id === null,
      tokenId: row.id,
      kind: row.kind,
      expiresAt: row.expires_at,
      ssoTenantId: row.sso_tenant_id,
      passwordChangeRequired: row.password_change_required,
    };
    if (tenantSlug === undefined) return { principal, csrfHash: row.csrf_hash };
    const tenant =
      row.tenant_id === null || row.tenant_slug === null || row.tenant_name === null
        ? null
        : { id: row.tenant_id, slug: row.tenant_slug, name: row.tenant_name, roles: row.tenant_roles, disabled_at: row.tenant_disabled_at };
    return { principal, csrfHash: row.csrf_hash, tenant };
  }

  /**
   * Ends every session (and, with `apiTokens`, every API token) of an operator, except `keep`.
   * The next call with any of them is 401. Returns how many ended; the caller audits.
   */
  /** `confinedTo`: only the sessions and tokens a tenant's single sign-on confined to it. */
  async function revokeAllOf(operatorId: string, opts: { apiTokens: boolean; keep?: string; confinedTo?: string }, db: Db = deps.db): Promise<number> {
    let q = db.updateTable('api_tokens').set({ revoked_at: clock.now() }).where('operator_id', '=', operatorId).where('revoked_at', 'is', null);
    if (!opts.apiTokens) q = q.where('kind', '=', 'session');
    if (opts.keep) q = q.where('id', '!=', opts.keep);
    if (opts.confinedTo) q = q.where('sso_tenant_id', '=', opts.confinedTo);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async function authenticate(token: string): Promise<Principal | null> {
    return (await resolve(token))?.principal ?? null;
  }

  return { createSession, createApiToken, listApiTokens, revoke, revokeAllOf, resolve, authenticate };
}

export type Tokens = ReturnType<typeof createTokens>;
