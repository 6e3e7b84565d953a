/**
 * Who is calling: `Authorization: Bearer <token>` (API clients, CLI) or the `timebox_session`
 * cookie (browser; `__Host-timebox_session` over HTTPS). A cookie is sent by the browser on its
 * own, so unsafe methods authenticated by cookie must also carry the session's CSRF token in
 * `x-csrf-token`. The login also puts that
 * token in the readable `timebox_csrf` cookie (double submit), so every tab of the origin can
 * send it; only the header counts, checked against the session's stored hash.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, forbidden } from '../core/errors.js';
import type { Actor } from '../auth/operators.js';
import { tenantSlugSchema } from '../api/fields.js';
import { csrfMatches, type Principal, type TenantMembershipRow, type Tokens } from '../auth/tokens.js';

export const SESSION_COOKIE = 'timebox_session';
/** Not HttpOnly: the dashboard reads it (same origin only) and echoes it in the header. */
export const CSRF_COOKIE = 'timebox_csrf';
/**
 * The name a cookie has where it is Secure (HTTPS, or TIMEBOX_SECURE_COOKIES): `__Host-`, which a
 * browser accepts only from this very host, over HTTPS, for the whole origin. A sibling host
 * (`evil.example.com` beside `timebox.example.com`) can set a `Domain=example.com` cookie of the
 * plain name, with a longer path so it is sent first, and sign the dashboard in as its own
 * account; it cannot set this one. Over HTTPS only this name is read.
 */
export const cookieName = (base: string, secure: boolean) => (secure ? `__Host-${base}` : base);
/** Whether this request's cookies are the Secure ones (see cookieName). */
export const secureCookiesFor = (request: FastifyRequest, secureCookies: boolean) => secureCookies || request.protocol === 'https';
export const CSRF_HEADER = 'x-csrf-token';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route needs no signed-in operator (login, health, OpenAPI document). */
    public?: boolean;
    /** Usable while the operator must still change a password someone else set (change it, /me, sign out). */
    beforePasswordChange?: boolean;
  }
  interface FastifyRequest {
    /** Set for every non-public route; null on public ones. */
    principal: Principal | null;
    /**
     * On a route under /tenants/:tenant, that tenant and the principal's membership in it, read
     * with the token; requireTenant decides from it. Null when not read.
     */
    tenantLookup: { slug: string; row: TenantMembershipRow | null } | null;
  }
}

export const passwordChangeRequired = () =>
  new AppError('password_change_required', 'change the password you were given before doing anything else (POST /api/v1/me/password)');

/** A password someone else set is changed before anything else is allowed. */
function requireOwnPassword(request: FastifyRequest, principal: Principal): void {
  if (principal.passwordChangeRequired && !request.routeOptions.config?.beforePasswordChange) throw passwordChangeRequired();
}

export const unauthorized = () => new AppError('unauthorized', 'sign in first (missing or invalid token)');

/** The signed-in operator of a non-public route (the hook guarantees one). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized();
  return request.principal;
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  // Node keeps the first of several and drops the rest; a proxy in front may have read another.
  // Which credential a request carries must not depend on who reads it.
  if (authorizationHeaders(request.raw.rawHeaders) > 1) throw new AppError('bad_request', 'send one Authorization header, not several');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  // A malformed Authorization header is an error, never a reason to fall back to the cookie.
  return m?.[1] ?? '';
}

function authorizationHeaders(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') n++;
  return n;
}

/**
 * The tenant slug of a route under /tenants/:tenant, if it is a well-formed one. Parameters are
 * not validated yet when this runs; anything else is left to the route's validation (a string
 * the database cannot hold must never reach a query).
 */
function tenantSlugOf(request: FastifyRequest): string | undefined {
  const slug = (request.params as { tenant?: unknown } | undefined)?.tenant;
  return typeof slug === 'string' && tenantSlugSchema.safeParse(slug).success ? slug : undefined;
}

export function installAuthHook(app: FastifyInstance, tokens: Pick<Tokens, 'resolve'>, secureCookies = false): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('tenantLookup', null);
  app.addHook('onRequest', async (request) => {
    // Unknown routes answer 404 (the route list is public in the OpenAPI document anyway).
    if (request.routeOptions.config?.public || request.is404) return;

    const slug = tenantSlugOf(request);
    const remember = (tenant: TenantMembershipRow | null | undefined) => {
      if (slug !== undefined && tenant !== undefined) request.tenantLookup = { slug, row: tenant };
    };
    const bearer = bearerToken(request);
    if (bearer !== undefined) {
      const resolved = bearer ? await tokens.resolve(bearer, undefined, slug) : null;
      if (!resolved) throw unauthorized();
      requireOwnPassword(request, resolved.principal);
      request.principal = resolved.principal;
      remember(resolved.tenant);
      return;
    }

    const cookie = request.cookies[cookieName(SESSION_COOKIE, secureCookiesFor(request, secureCookies))];
    const resolved = cookie ? await tokens.resolve(cookie, undefined, slug) : null;
    // Only sessions live in cookies; an API token planted in a cookie is not accepted.
    if (!resolved || resolved.principal.kind !== 'session') throw unauthorized();
    if (UNSAFE_METHODS.has(request.method)) {
      const presented = request.headers[CSRF_HEADER];
      if (typeof presented !== 'string' || !csrfMatches(resolved.csrfHash, presented)) {
        throw forbidden('missing or invalid CSRF token');
      }
    }
    requireOwnPassword(request, resolved.principal);
    request.principal = resolved.principal;
    remember(resolved.tenant);
  });
}

/** The audit actor for something the signed-in operator did. */
export const actorOf = (p: Principal): Actor => ({ type: 'operator', id: p.operatorId });
