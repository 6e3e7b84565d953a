/**
 * The one wrapper around `openid-client`: discovery (cached per tenant settings version),
 * authorization URLs with PKCE, state and nonce, the code exchange and the device authorization
 * grant. ID tokens are checked by the library — issuer, audience, expiry, nonce — and their
 * signature against the provider's JWKS (non-repudiation checks on). Every failure becomes an
 * AppError whose message a person understands and whose `details.sso` says what failed.
 *
 * Every request (discovery, JWKS, token, userinfo, device) goes through the outbound address
 * policy and reads at most MAX_ANSWER_BYTES: a tenant admin names the issuer, and the discovery
 * document names the rest, so neither may lead this server into its own network.
 */
import * as oidc from 'openid-client';
import { AppError, type AppErrorCode } from '../../core/errors.js';
import { OutboundRefused, type OutboundPolicy } from '../../net/outbound-policy.js';
import { AnswerTooLarge, policyFetch } from '../../net/policy-fetch.js';
import { escapeUnsafeText } from '../../core/text.js';
import type { SsoProviderSettings } from './sso-settings.js';
import { isLoopbackHost } from './sso-settings.js';

const DISCOVERY_TTL_MS = 5 * 60_000;
const HTTP_TIMEOUT_SECONDS = 10;
/** Discovery documents and key sets are a few KiB; 1 MiB leaves room and bounds the memory. */
const MAX_ANSWER_BYTES = 1024 * 1024;
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** What went wrong, as data: routes and tests read this, never the sentence. */
export type SsoFailure =
  | 'not_configured'
  | 'provider_unreachable'
  | 'provider_refused'
  | 'invalid_state'
  | 'invalid_response'
  | 'email_unverified'
  | 'no_email'
  | 'bad_email'
  | 'no_role'
  | 'not_linkable'
  | 'operator_disabled'
  | 'device_pending'
  | 'device_unsupported'
  | 'invalid_handoff';

export const ssoError = (failure: SsoFailure, message: string, status: AppErrorCode = 'unauthorized') =>
  new AppError(status, message, { sso: failure });

export interface IdTokenResult {
  /** Validated ID token claims, completed from userinfo when email or groups are not in it. */
  claims: Record<string, unknown>;
  subject: string;
}

function isNetworkFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const chain = [err, err.cause].filter((e): e is Error => e instanceof Error);
  return chain.some(
    (e) =>
      e.name === 'AbortError' ||
      e.name === 'TimeoutError' ||
      e.message === 'fetch failed' ||
      /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.test(String((e as { code?: unknown }).code ?? e.message)),
  );
}

/** Maps a library failure to a refusal that names the cause without echoing secrets. */
export function describeFailure(err: unknown, issuer: string): AppError {
  if (err instanceof AppError) return err;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : null;
  const refused = [err, cause].find((e) => e instanceof OutboundRefused);
  if (refused) return ssoError('provider_unreachable', `the identity provider's address ${refused.host} is ${refused.addressClass}, which this server does not connect to unless its operator allows it (TIMEBOX_OUTBOUND_ALLOW)`, 'bad_request');
  if ([err, cause].some((e) => e instanceof AnswerTooLarge)) {
    return ssoError('invalid_response', `the identity provider at ${issuer} answered with more than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB, which is not an answer of an identity provider`);
  }
  if (isNetworkFailure(err)) {
    return ssoError('provider_unreachable', `could not reach the identity provider at ${issuer}; try again later or ask an admin`, 'target_error');
  }
  if (err instanceof oidc.AuthorizationResponseError || err instanceof oidc.ResponseBodyError) {
    // The provider's words reach a browser page and a terminal: controls and bidi shown, not obeyed.
    const desc = err.error_description ? `: ${escapeUnsafeText(err.error_description)}` : '';
    return ssoError('provider_refused', `the identity provider refused the sign-in (${escapeUnsafeText(err.error)}${desc})`);
  }
  // openid-client says "unexpected JWT claim value encountered"; its cause names the claim.
  const message = cause?.message ?? (err instanceof Error ? err.message : String(err));
  return ssoError('invalid_response', `the identity provider's answer was not accepted: ${escapeUnsafeText(message)}`);
}

export function createProviderClient(opts: { outbound: OutboundPolicy; now?: () => number }) {
  const now = opts.now ?? Date.now;
  const fetchThroughPolicy = policyFetch(opts.outbound, { maxBytes: MAX_ANSWER_BYTES });
  const cache = new Map<string, { config: oidc.Configuration; at: number; key: string }>();

  /** Discovery, uncached: also how settings are checked before they are saved. */
  async function discover(s: Pick<SsoProviderSettings, 'issuer' | 'clientId' | 'clientSecret'>): Promise<oidc.Configuration> {
    const insecure = new URL(s.issuer).protocol === 'http:' && isLoopbackHost(new URL(s.issuer).hostname);
    try {
      return await oidc.discovery(new URL(s.issuer), s.clientId, undefined, s.clientSecret ? oidc.ClientSecretBasic(s.clientSecret) : oidc.None(), {
        timeout: HTTP_TIMEOUT_SECONDS,
        // Kept by the configuration for every later request too.
        [oidc.customFetch]: fetchThroughPolicy,
        execute: [oidc.enableNonRepudiationChecks, ...(insecure ? [oidc.allowInsecureRequests] : [])],
      });
    } catch (err) {
      throw describeFailure(err, s.issuer);
    }
  }

  async function configFor(s: SsoProviderSettings): Promise<oidc.Configuration> {
    const key = `${s.issuer}|${s.clientId}|${s.updatedAt.getTime()}`;
    const hit = cache.get(s.tenantId);
    if (hit && hit.key === key && now() - hit.at < DISCOVERY_TTL_MS) return hit.config;
    const config = await discover(s);
    cache.set(s.tenantId, { config, at: now(), key });
    return config;
  }

  /** The URL to send the browser to; the caller keeps verifier, state and nonce server-side. */
  async function authorizationUrl(s: SsoProviderSettings, p: { redirectUri: string; state: string; nonce: string; codeVerifier: string }): Promise<URL> {
    const config = await configFor(s);
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: p.redirectUri,
      scope: s.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(p.codeVerifier),
      code_challenge_method: 'S256',
      state: p.state,
      nonce: p.nonce,
    });
  }

  /** Redeems the code at the token endpoint and validates the ID token. */
  async function exchangeCode(
    s: SsoProviderSettings,
    callbackUrl: URL,
    checks: { state: string; nonce: string; codeVerifier: string },
  ): Promise<IdTokenResult> {
    const config = await configFor(s);
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      return await completeClaims(s, config, tokens);
    } catch (err) {
      throw describeFailure(err, s.issuer);
    }
  }

  async function completeClaims(s: SsoProviderSettings, config: oidc.Configuration, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): Promise<IdTokenResult> {
    const idClaims = tokens.claims();
    if (!idClaims) throw ssoError('invalid_response', 'the identity provider sent no ID token');
    const claims: Record<string, unknown> = { ...idClaims };
    const missing = claims[s.emailClaim] === undefined || claims[s.groupsClaim] === undefined || claims[s.emailVerifiedClaim] === undefined;
    if (missing && config.serverMetadata().userinfo_endpoint && tokens.access_token) {
      // Some providers put email and groups only in userinfo; the subject must be the same person.
      const info = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      for (const [k, v] of Object.entries(info)) if (claims[k] === undefined) claims[k] = v;
    }
    return { claims, subject: idClaims.sub };
  }

  async function deviceSupported(s: SsoProviderSettings): Promise<boolean> {
    return Boolean((await configFor(s)).serverMetadata().device_authorization_endpoint);
  }

  async function startDevice(s: SsoProviderSettings): Promise<oidc.DeviceAuthorizationResponse> {
    const config = await configFor(s);
    if (!config.serverMetadata().device_authorization_endpoint) {
      throw ssoError('device_unsupported', 'this identity provider does not offer the device authorization grant; sign in through the browser instead', 'bad_request');
    }
    try {
      return await oidc.initiateDeviceAuthorization(config, { scope: s.scopes.join(' ') });
    } catch (err) {
      throw describeFailure(err, s.issuer);
    }
  }

  /** One poll of the token endpoint: the ID token once the person approved, else a typed refusal. */
  async function pollDevice(s: SsoProviderSettings, deviceCode: string): Promise<IdTokenResult> {
    const config = await configFor(s);
    try {
      const tokens = await oidc.genericGrantRequest(config, DEVICE_CODE_GRANT, { device_code: deviceCode });
      return await completeClaims(s, config, tokens);
    } catch (err) {
      if (err instanceof oidc.ResponseBodyError && (err.error === 'authorization_pending' || err.error === 'slow_down')) {
        throw ssoError('device_pending', 'waiting for you to approve the sign-in at the identity provider', 'conflict');
      }
      throw describeFailure(err, s.issuer);
    }
  }

  return { discover, configFor, authorizationUrl, exchangeCode, deviceSupported, startDevice, pollDevice };
}

export type ProviderClient = ReturnType<typeof createProviderClient>;
