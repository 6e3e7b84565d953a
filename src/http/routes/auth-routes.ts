/** Sign in, sign out and "who am I". */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../../audit/types.js';
import { AppError, badRequest } from '../../core/errors.js';
import type { Database } from '../../store/schema.js';
import { inTransaction, normalizeEmail, type Operators } from '../../auth/operators.js';
import { verifyPasswordOrDummy } from '../../auth/password-hash.js';
import type { Tokens } from '../../auth/tokens.js';
import type { PasswordGuesses } from '../../auth/password-guesses.js';
import type { Totp } from '../../auth/totp.js';
import { assertPasswordSignInAllowed } from '../../auth/oidc/require-sso.js';
import { actorOf, cookieName, CSRF_COOKIE, principalOf, secureCookiesFor, SESSION_COOKIE } from '../auth-hook.js';
import type { ZodApp } from '../server.js';
import { findUnsafeInRequest, textRefusal } from '../text-guard.js';
import { escapeUnsafeText } from '../../core/text.js';

export const LOGIN_ATTEMPTS_PER_MINUTE = 10;

export interface AuthRoutesDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  operators: Operators;
  tokens: Tokens;
  totp: Totp;
  /** Failed password checks per account and per address (password-guesses.ts). */
  guesses: PasswordGuesses;
  secureCookies: boolean;
}

const wrongCredentials = () => new AppError('unauthorized', 'email or password is incorrect');

// Cookies are Secure whenever the request came over HTTPS (directly, or as a trusted proxy's
// X-Forwarded-Proto says), and always with TIMEBOX_SECURE_COOKIES: secureCookiesFor.
const sessionCookieOptions = (request: FastifyRequest, secureCookies: boolean) => ({
  httpOnly: true,
  sameSite: 'strict' as const,
  path: '/',
  secure: secureCookiesFor(request, secureCookies),
});
/** The CSRF cookie: readable by the page (it must echo the token), sent to this origin only. */
const csrfCookieOptions = (request: FastifyRequest, secureCookies: boolean) => ({
  httpOnly: false,
  sameSite: 'strict' as const,
  path: '/',
  secure: secureCookiesFor(request, secureCookies),
});

/** The browser's session cookies, as password sign-in and single sign-on both set them. */
export function setSessionCookies(
  request: FastifyRequest,
  reply: FastifyReply,
  session: { token: string; csrfToken: string; expiresAt: Date },
  secureCookies: boolean,
): void {
  const secure = secureCookiesFor(request, secureCookies);
  reply.setCookie(cookieName(SESSION_COOKIE, secure), session.token, { ...sessionCookieOptions(request, secureCookies), expires: session.expiresAt });
  // A second tab has no copy of the token in its sessionStorage: it reads this cookie.
  reply.setCookie(cookieName(CSRF_COOKIE, secure), session.csrfToken, { ...csrfCookieOptions(request, secureCookies), expires: session.expiresAt });
}

export function authRoutes(deps: AuthRoutesDeps) {
  const { db, audit, operators, tokens, totp, guesses } = deps;
  return (app: ZodApp) => {
    app.route({
      // A refused sign-in is audited, whatever text it carried: the handler applies the rule.
      ...routeOf(endpoints.login, {
        config: {
          checksOwnText: true,
          rateLimit: {
            max: LOGIN_ATTEMPTS_PER_MINUTE,
            timeWindow: 60_000,
            // After body parsing, so the key can include the email: guessing one account's
            // password is slowed down without locking everybody behind the same NAT out.
            hook: 'preHandler',
            keyGenerator: (req) => `${req.ip}|${escapeUnsafeText(normalizeEmail(String((req.body as { email?: unknown } | undefined)?.email ?? '')))}`,
            errorResponseBuilder: (_req, ctx) => new AppError('rate_limited', `too many sign-in attempts; try again in ${ctx.after}`),
          },
        },
      }),
      handler: async (request, reply) => {
        const unsafe = findUnsafeInRequest(request);
        if (unsafe) {
          await audit.append(db, {
            tenantId: null,
            actor: { type: 'operator', id: null },
            action: 'auth.login_failed',
            subject: { type: 'operator', id: null },
            reason: 'unreadable text',
            after: { email: escapeUnsafeText(normalizeEmail(request.body.email)), ip: request.ip },
          });
          throw textRefusal(unsafe);
        }
        const email = normalizeEmail(request.body.email);
        const operator = await operators.findByEmail(email);
        // An account or an address out of failures is refused before its password is looked at:
        // a right guess then reads exactly like a wrong one.
        const limited = await guesses.refusal({ email, ip: request.ip });
        if (limited) {
          await audit.append(db, {
            tenantId: null,
            actor: { type: 'operator', id: operator?.id ?? null },
            action: 'auth.login_failed',
            subject: { type: 'operator', id: operator?.id ?? null },
            reason: 'too many failed attempts',
            after: { email, ip: request.ip },
          });
          throw limited;
        }
        // Always one argon2 verification, so unknown emails answer as slowly as known ones.
        const passwordOk = await verifyPasswordOrDummy(operator?.passwordHash, request.body.password);
        if (!operator || !passwordOk || operator.disabled) {
          if (!passwordOk) await guesses.failed({ email, ip: request.ip });
          await audit.append(db, {
            tenantId: null,
            actor: { type: 'operator', id: operator?.id ?? null },
            action: 'auth.login_failed',
            subject: { type: 'operator', id: operator?.id ?? null },
            reason: !operator ? 'unknown email' : !passwordOk ? 'wrong password' : 'operator disabled',
            after: { email, ip: request.ip },
          });
          throw wrongCredentials();
        }
        // Only after the password: the answer says "code needed" to those who know the password.
        const mfa = await totp.isEnabled(operator.id);
        if (mfa) await totp.verifyFresh(operator.id, request.body.totp, 'login');
        await assertPasswordSignInAllowed({ db, audit }, operator, mfa, request.ip);
        const session = await inTransaction(db, async (tx) => {
          const s = await tokens.createSession(operator.id, tx);
          await audit.append(tx, {
            tenantId: null,
            actor: { type: 'operator', id: operator.id },
            action: 'auth.login',
            subject: { type: 'session', id: s.id },
            after: { email, ip: request.ip, expiresAt: s.expiresAt, mfa },
          });
          return s;
        });
        setSessionCookies(request, reply, session, deps.secureCookies);
        return {
          token: session.token,
          csrfToken: session.csrfToken,
          expiresAt: session.expiresAt.toISOString(),
          operator: { id: operator.id, email: operator.email, displayName: operator.displayName },
          passwordChangeRequired: operator.passwordChangeRequired,
        };
      },
    });

    app.route({
      ...routeOf(endpoints.logout),
      handler: async (request, reply) => {
        const principal = principalOf(request);
        if (principal.kind !== 'session') {
          throw badRequest('logout ends a session; revoke an API token with DELETE /api/v1/tokens/{id}');
        }
        await tokens.revoke(principal.tokenId, principal.operatorId, actorOf(principal));
        const secure = secureCookiesFor(request, deps.secureCookies);
        reply.clearCookie(cookieName(SESSION_COOKIE, secure), sessionCookieOptions(request, deps.secureCookies));
        reply.clearCookie(cookieName(CSRF_COOKIE, secure), csrfCookieOptions(request, deps.secureCookies));
        return reply.status(204).send(null);
      },
    });

    app.route({
      ...routeOf(endpoints.me),
      handler: async (request) => {
        const principal = principalOf(request);
        return {
          operator: {
            id: principal.operatorId,
            email: principal.email,
            displayName: principal.displayName,
            platformAdmin: principal.platformAdmin,
            mfaEnabled: await totp.isEnabled(principal.operatorId),
            passwordChangeRequired: principal.passwordChangeRequired,
          },
          memberships: (await operators.membershipsOf(principal.operatorId)).filter((m) => !principal.ssoTenantId || m.tenant.id === principal.ssoTenantId),
          session: { kind: principal.kind, expiresAt: principal.expiresAt?.toISOString() ?? null },
        };
      },
    });
  };
}
