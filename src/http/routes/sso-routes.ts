/**
 * Single sign-on with OpenID Connect: the tenant's settings (owners and admins), the browser
 * flow (start → provider → callback → the same session cookies as password sign-in), the CLI's
 * loopback flow (the server redeems the provider's code; the CLI gets a one-time code bound to
 * its own PKCE challenge and trades it for a session token) and the device authorization grant,
 * also redeemed by the server so the client secret never leaves it.
 */
import type { MemberRemoval } from '../../auth/member-removal.js';
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import { CALLBACK_PATH } from '../../api/endpoints/sso.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from '../../audit/types.js';
import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { createOperators } from '../../auth/operators.js';
import { createTokens } from '../../auth/tokens.js';
import { createProviderClient, describeFailure, ssoError, type ProviderClient } from '../../auth/oidc/provider-client.js';
import { createSsoFlows, FLOW_TTL_MS } from '../../auth/oidc/sso-flows.js';
import { createSsoSettings, type SsoProviderSettings, type SsoSettingsView } from '../../auth/oidc/sso-settings.js';
import { createSsoSignIn, type SsoSession } from '../../auth/oidc/sso-sign-in.js';
import { generateToken } from '../../secrets/password.js';
import type { SecretBox } from '../../secrets/types.js';
import { actorOf, cookieName, principalOf, secureCookiesFor } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';
import { setSessionCookies } from './auth-routes.js';
import { iso } from '../schemas.js';
import type { Kysely } from 'kysely';
import type { OutboundPolicy } from '../../net/outbound-policy.js';
import type { Database } from '../../store/schema.js';

export const SSO_BROWSER_COOKIE = 'timebox_sso';
/** `__Host-` cookies must be for the whole origin; the plain one is sent to the flow's routes only. */
const ssoCookiePath = (secure: boolean) => (secure ? '/' : '/api/v1/auth/sso');
export { CALLBACK_PATH };
// Per address: a whole office behind one NAT signs in around nine o'clock.
const SSO_ATTEMPTS_PER_MINUTE = 120;

export interface SsoRoutesDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  clock: Clock;
  secrets: SecretBox;
  secureCookies: boolean;
  /** The server's public base URL (TIMEBOX_PUBLIC_URL, else the URL it listens on). */
  publicUrl: () => string;
  provider?: ProviderClient;
  /** Where the server may connect: the provider's issuer and every endpoint it names. */
  outbound: OutboundPolicy;
  /** A person the identity provider no longer gives a role here leaves the tenant, and their access with it. */
  memberRemoval: MemberRemoval;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** What a browser sees when its sign-in is refused: the reason, and the way back. */
function htmlPage(reply: FastifyReply, status: number, title: string, message: string, next?: string) {
  const refresh = next ? `<meta http-equiv="refresh" content="0;url=${escapeHtml(next)}">` : '';
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8">${refresh}<title>${escapeHtml(title)} · Timebox</title>` +
        `<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}</style></head>` +
        `<body><h1>${escapeHtml(title)}</h1><p id="message">${escapeHtml(message)}</p><p><a href="/">Back to sign-in</a></p></body></html>`,
    );
}

const rateLimit = {
  max: SSO_ATTEMPTS_PER_MINUTE,
  timeWindow: 60_000,
  errorResponseBuilder: (_req: FastifyRequest, ctx: { after: string }) => new AppError('rate_limited', `too many sign-in attempts; try again in ${ctx.after}`),
};

export function ssoRoutes(deps: SsoRoutesDeps): RouteModule {
  const { db, audit, clock, secrets } = deps;
  const settings = createSsoSettings({ db, audit, clock, secrets });
  const flows = createSsoFlows({ db, clock, secrets });
  const operators = createOperators({ db, audit, clock });
  const tokens = createTokens({ db, audit, clock });
  const sso = createSsoSignIn({ db, audit, clock, operators, tokens, memberRemoval: deps.memberRemoval });
  const provider = deps.provider ?? createProviderClient({ outbound: deps.outbound });
  const redirectUri = () => new URL(CALLBACK_PATH, deps.publicUrl()).toString();

  const viewJson = (v: SsoSettingsView) => ({ ...v, redirectUri: redirectUri(), updatedAt: iso(v.updatedAt) });

  /** The tenant's provider settings by slug; unknown tenant and "not set up" answer alike. */
  async function providerOf(slug: string): Promise<SsoProviderSettings> {
    const t = await db.selectFrom('tenants').select('id').where('slug', '=', slug).executeTakeFirst();
    const s = t ? await settings.forSignIn(t.id) : null;
    if (!s) throw ssoError('not_configured', `single sign-on is not set up for tenant ${slug}`, 'not_found');
    return s;
  }

  const toSessionJson = (r: SsoSession) => ({
    token: r.session.token,
    csrfToken: r.session.csrfToken,
    expiresAt: r.session.expiresAt.toISOString(),
    operator: r.operator,
  });

  return (app) => {
    app.route({
      ...routeOf(endpoints.getSsoSettings),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        const v = await settings.get(t.tenantId);
        if (!v) throw new AppError('not_found', `single sign-on is not set up for tenant ${t.slug}`, { sso: 'not_configured', redirectUri: redirectUri() });
        return viewJson(v);
      },
    });

    app.route({
      ...routeOf(endpoints.setSsoSettings),
      handler: async (request) => {
        const principal = principalOf(request);
        // Owners only: the provider's role mappings can make anyone an owner, and it vouches for
        // the email of every member it signs in. An admin who set it up could make themself owner.
        const t = await requireTenant(request, request.params.tenant, 'owners.manage');
        const body = request.body;
        // The provider must answer discovery before anyone depends on it.
        const previous = await settings.forSignIn(t.tenantId);
        const clientSecret = body.clientSecret ?? previous?.clientSecret ?? null;
        await provider.discover({ issuer: body.issuer, clientId: body.clientId, clientSecret }).catch((err: unknown) => {
          const e = describeFailure(err, body.issuer);
          throw new AppError('bad_request', `the issuer did not answer OpenID discovery: ${e.message}`, e.details);
        });
        return viewJson(await settings.set(t.tenantId, body, actorOf(principal)));
      },
    });

    app.route({
      ...routeOf(endpoints.deleteSsoSettings),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'owners.manage');
        await settings.remove(t.tenantId, actorOf(principalOf(request)));
        return reply.status(204).send(null);
      },
    });

    app.route({
      ...routeOf(endpoints.ssoStart, { config: { rateLimit } }),
      handler: async (request, reply) => {
        try {
          const s = await providerOf(request.params.tenant);
          const browserSecret = generateToken(32);
          const f = await flows.begin(s.tenantId, 'web', { browserSecret });
          const url = await provider.authorizationUrl(s, { redirectUri: redirectUri(), ...f });
          // Lax: the provider's redirect back is a cross-site navigation; the cookie binds the
          // answer to the browser that started, so nobody can slip their sign-in into ours.
          // Over HTTPS a __Host- cookie (whole origin): a sibling host cannot plant its own flow's.
          const secure = secureCookiesFor(request, deps.secureCookies);
          reply.setCookie(cookieName(SSO_BROWSER_COOKIE, secure), browserSecret, {
            httpOnly: true,
            sameSite: 'lax',
            path: ssoCookiePath(secure),
            secure,
            maxAge: FLOW_TTL_MS / 1000,
          });
          return reply.redirect(url.toString(), 302);
        } catch (err) {
          const e = describeFailure(err, '');
          return htmlPage(reply, e.status, 'Single sign-on is not available', e.message);
        }
      },
    });

    app.route({
      ...routeOf(endpoints.ssoCallback, { config: { rateLimit } }),
      handler: async (request, reply) => {
        const state = request.query.state;
        const flow = state ? await flows.take(state) : null;
        const secure = secureCookiesFor(request, deps.secureCookies);
        const browserCookie = cookieName(SSO_BROWSER_COOKIE, secure);
        const browserSecret = request.cookies[browserCookie];
        if (browserSecret) reply.clearCookie(browserCookie, { path: ssoCookiePath(secure), httpOnly: true, sameSite: 'lax', secure });
        if (!flow) {
          const e = ssoError(
            'invalid_state',
            state ? 'this sign-in is unknown, expired or was already used; start again' : 'the answer from the identity provider has no state; start again',
            'bad_request',
          );
          await sso.auditFailure(null, e, { ip: request.ip });
          return htmlPage(reply, e.status, 'Sign-in refused', e.message);
        }
        const fail = async (err: unknown, s?: SsoProviderSettings) => {
          const e = describeFailure(err, s?.issuer ?? '');
          const already = err instanceof AppError && (err.details as { sso?: string } | undefined)?.sso && ['no_role', 'not_linkable', 'email_unverified', 'no_email', 'bad_email', 'operator_disabled'].includes((err.details as { sso: string }).sso);
          if (!already) await sso.auditFailure(flow.tenant_id, e, { ip: request.ip, via: flow.kind });
          if (flow.kind === 'cli' && flow.cli_redirect) {
            const back = new URL(flow.cli_redirect);
            back.searchParams.set('error', String((e.details as { sso?: string } | undefined)?.sso ?? e.code));
            back.searchParams.set('error_description', e.message);
            return reply.redirect(back.toString(), 302);
          }
          return htmlPage(reply, e.status, 'Sign-in refused', e.message);
        };
        let s: SsoProviderSettings | undefined;
        try {
          if (flow.kind === 'web' && (!browserSecret || !(await flows.browserMatches(flow, browserSecret)))) {
            throw ssoError('invalid_state', 'this sign-in was started in another browser; start again here', 'bad_request');
          }
          const found = await settings.forSignIn(flow.tenant_id);
          if (!found) throw ssoError('not_configured', 'single sign-on was removed from this tenant meanwhile', 'not_found');
          s = found;
          const callbackUrl = new URL(request.url, deps.publicUrl());
          const result = await provider.exchangeCode(s, callbackUrl, { state: state!, nonce: flow.nonce ?? '', codeVerifier: flow.code_verifier ?? '' });
          if (flow.kind === 'cli') {
            const signedIn = await sso.signIn(s, result, 'cli', request.ip);
            // The CLI trades this code for its session token; the browser gets no session.
            const code = await flows.issueHandoff(signedIn.operator.id, s.tenantId, flow.cli_challenge ?? '');
            const back = new URL(flow.cli_redirect ?? '');
            back.searchParams.set('code', code);
            return reply.redirect(back.toString(), 302);
          }
          const signedIn = await sso.signIn(s, result, 'web', request.ip);
          setSessionCookies(request, reply, signedIn.session, deps.secureCookies);
          // A page of ours moves on to the dashboard: that navigation starts on this site, so
          // the SameSite=Strict session cookie goes along from the first request.
          return htmlPage(reply, 200, 'Signed in', `Signed in as ${signedIn.operator.email}.`, '/');
        } catch (err) {
          return fail(err, s);
        }
      },
    });

    app.route({
      ...routeOf(endpoints.ssoCliStart, { config: { rateLimit } }),
      handler: async (request) => {
        const s = await providerOf(request.params.tenant);
        const f = await flows.begin(s.tenantId, 'cli', { cliRedirect: request.body.redirectUri, cliChallenge: request.body.codeChallenge });
        const url = await provider.authorizationUrl(s, { redirectUri: redirectUri(), ...f });
        return { authorizationUrl: url.toString() };
      },
    });

    app.route({
      ...routeOf(endpoints.ssoCliExchange, { config: { rateLimit } }),
      handler: async (request) => {
        const h = await flows.redeemHandoff(request.body.code, request.body.codeVerifier);
        if (!h) throw ssoError('invalid_handoff', 'this sign-in code is unknown, expired, already used or not yours; sign in again', 'unauthorized');
        const op = await db.selectFrom('operators').select(['id', 'email', 'display_name', 'disabled']).where('id', '=', h.operatorId).executeTakeFirstOrThrow();
        if (op.disabled) throw ssoError('operator_disabled', 'this account is disabled', 'unauthorized');
        const session = await db.transaction().execute(async (tx) => {
          const created = await sso.createScopedSession(tx, op.id, h.tenantId);
          await audit.append(tx, {
            tenantId: h.tenantId,
            actor: { type: 'operator', id: op.id },
            action: 'auth.sso_login',
            subject: { type: 'session', id: created.id },
            after: { via: 'cli', ip: request.ip, expiresAt: created.expiresAt },
          });
          return created;
        });
        return toSessionJson({ operator: { id: op.id, email: op.email, displayName: op.display_name }, session });
      },
    });

    app.route({
      ...routeOf(endpoints.ssoDeviceStart, { config: { rateLimit } }),
      handler: async (request) => {
        const s = await providerOf(request.params.tenant);
        const d = await provider.startDevice(s);
        const handle = await flows.beginDevice(s.tenantId, d.device_code, d.expires_in);
        return {
          handle,
          userCode: d.user_code,
          verificationUri: d.verification_uri,
          verificationUriComplete: d.verification_uri_complete ?? null,
          expiresIn: Math.min(d.expires_in, FLOW_TTL_MS / 1000),
          interval: d.interval ?? 5,
        };
      },
    });

    app.route({
      ...routeOf(endpoints.ssoDevicePoll),
      handler: async (request, reply) => {
        const handle = request.body.handle;
        const d = await flows.device(handle);
        if (!d) throw ssoError('invalid_state', 'this device sign-in is unknown, expired or already finished; start again', 'unauthorized');
        const s = await settings.forSignIn(d.tenantId);
        if (!s) throw ssoError('not_configured', 'single sign-on was removed from this tenant meanwhile', 'not_found');
        let result;
        try {
          result = await provider.pollDevice(s, d.deviceCode);
        } catch (err) {
          if (err instanceof AppError && (err.details as { sso?: string } | undefined)?.sso === 'device_pending') return reply.status(202).send({ pending: true as const });
          const e = describeFailure(err, s.issuer);
          await flows.finishDevice(handle);
          await sso.auditFailure(s.tenantId, e, { ip: request.ip, via: 'device' });
          throw e;
        }
        // One winner: two polls racing past the provider both hold tokens, only one gets a session.
        if (!(await flows.finishDevice(handle))) throw ssoError('invalid_state', 'this device sign-in already finished', 'unauthorized');
        return toSessionJson(await sso.signIn(s, result, 'device', request.ip));
      },
    });
  };
}
