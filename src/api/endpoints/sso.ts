import { z } from 'zod';
import { roles } from '../../core/roles.js';
import { endpoint } from '../endpoint.js';
import { tenantParamsSchema, tenantSlugSchema } from '../fields.js';

export const MAX_MAPPINGS = 200;
const claimName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_:./-]+$/, { error: 'a claim name: letters, digits and _ : . / -' });
const idpGroup = z.string().trim().min(1, { error: 'an IdP group must not be empty' }).max(512);

/** https only, except a provider on this machine (development, tests). */
export const issuerUrl = z.url({ error: 'must be the issuer URL, e.g. https://login.example.com/realms/acme' }).refine(
  (u) => {
    if (!URL.canParse(u)) return false; // zod runs refinements after a failed check too
    const url = new URL(u);
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  },
  { error: 'the issuer must use https (plain http only for a provider on 127.0.0.1 or localhost)' },
);

export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

export const ssoSettingsInput = z.strictObject({
  issuer: issuerUrl,
  clientId: z.string().trim().min(1).max(512),
  clientSecret: z.string().min(1).max(4096).optional().describe('Omit to keep the stored one'),
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, { error: 'a scope is one word without spaces or quotes' }))
    .max(30)
    .default(['openid', 'email', 'profile'])
    .refine((s) => s.includes('openid'), { error: 'scopes must include openid' }),
  emailClaim: claimName.default('email'),
  emailVerifiedClaim: claimName.default('email_verified'),
  groupsClaim: claimName.default('groups'),
  roleMappings: z
    .array(z.strictObject({ group: idpGroup, roles: z.array(z.enum(roles)).min(1, { error: 'map a group to at least one role' }) }))
    .max(MAX_MAPPINGS)
    .default([]),
  groupMappings: z
    .array(z.strictObject({ group: idpGroup, operatorGroup: z.string().trim().min(1).max(200) }))
    .max(MAX_MAPPINGS)
    .default([]),
  requireSso: z.boolean().default(false),
  // Operators' emails need not have a dot in the domain (admin@localhost): only the shape is checked.
  breakGlassEmails: z.array(z.string().trim().max(320).regex(/^[^@\s]+@[^@\s]+$/, { error: 'break-glass owners are named by email' })).max(20).default([]),
});

export const CALLBACK_PATH = '/api/v1/auth/sso/callback';
const loopbackRedirect = z
  .url({ error: 'must be the loopback URL the CLI listens on' })
  .refine((u) => {
    // zod runs refinements after a failed check too: an unparsable URL is simply refused here.
    if (!URL.canParse(u)) return false;
    const url = new URL(u);
    return url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === '[::1]') && url.port !== '' && !url.search && !url.hash;
  }, { error: 'must be http://127.0.0.1:<port>/<path> (a loopback address with a port, no query)' });

export const settingsView = z.object({
  issuer: z.string(),
  clientId: z.string(),
  clientSecretSet: z.boolean().describe('The secret itself is never returned'),
  scopes: z.array(z.string()),
  emailClaim: z.string(),
  emailVerifiedClaim: z.string(),
  groupsClaim: z.string(),
  roleMappings: z.array(z.object({ group: z.string(), roles: z.array(z.enum(roles)) })),
  groupMappings: z.array(z.object({ group: z.string(), operatorGroup: z.string() })),
  requireSso: z.boolean(),
  breakGlassEmails: z.array(z.string()),
  redirectUri: z.string().describe('Register this at the identity provider'),
  updatedAt: z.string().nullable(),
});
export const sessionResponse = z.object({
  token: z.string(),
  csrfToken: z.string(),
  expiresAt: z.iso.datetime(),
  operator: z.object({ id: z.guid(), email: z.string(), displayName: z.string() }),
});
export const challenge = z.string().regex(/^[A-Za-z0-9_-]{43}$/, { error: 'must be a base64url SHA-256 PKCE challenge (43 characters)' });

export const ssoEndpoints = {
  getSsoSettings: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/sso',
    auth: 'session',
    tags: ['sso'],
    summary: 'Single sign-on settings of the tenant (the client secret is never returned)',
    params: tenantParamsSchema,
    response: { 200: settingsView },
  }),
  setSsoSettings: endpoint({
    method: 'PUT',
    path: '/api/v1/tenants/:tenant/sso',
    auth: 'session',
    tags: ['sso'],
    summary: "Set the tenant's OpenID provider, claims, group mapping and whether SSO is required (checked against the provider before saving)",
    params: tenantParamsSchema,
    body: ssoSettingsInput,
    response: { 200: settingsView },
  }),
  deleteSsoSettings: endpoint({
    method: 'DELETE',
    path: '/api/v1/tenants/:tenant/sso',
    auth: 'session',
    tags: ['sso'],
    summary: 'Remove single sign-on from the tenant (password sign-in is no longer refused)',
    params: tenantParamsSchema,
    response: { 204: z.null() },
  }),
  ssoStart: endpoint({
    method: 'GET',
    path: '/api/v1/auth/sso/:tenant/start',
    auth: 'public',
    tags: ['sso'],
    summary: "Dashboard sign-in: redirects the browser to the tenant's identity provider",
    params: z.object({ tenant: tenantSlugSchema }),
    // A provider that starts the sign-in itself (OIDC third-party initiated login) adds iss,
    // login_hint and target_link_uri; the sign-in starts the same way, so they are ignored.
    query: z.object({}).passthrough(),
  }),
  ssoCallback: endpoint({
    method: 'GET',
    path: '/api/v1/auth/sso/callback',
    auth: 'public',
    tags: ['sso'],
    summary: 'Where the identity provider sends the browser back (register this redirect URI there)',
    query: z.object({ state: z.string().max(512).optional() }).passthrough(),
  }),
  ssoCliStart: endpoint({
    method: 'POST',
    path: '/api/v1/auth/sso/:tenant/cli',
    auth: 'public',
    tags: ['sso'],
    summary: 'CLI sign-in: answers the URL to open in a browser; the server sends the browser back to the CLI loopback with a one-time code',
    params: z.object({ tenant: tenantSlugSchema }),
    body: z.strictObject({ redirectUri: loopbackRedirect, codeChallenge: challenge }),
    response: { 200: z.object({ authorizationUrl: z.string() }) },
  }),
  ssoCliExchange: endpoint({
    method: 'POST',
    path: '/api/v1/auth/sso/cli/exchange',
    auth: 'public',
    tags: ['sso'],
    summary: "CLI sign-in: trade the one-time code from the loopback redirect (and the CLI's PKCE verifier) for a session token",
    body: z.strictObject({ code: z.string().min(16).max(128), codeVerifier: z.string().min(43).max(128) }),
    response: { 200: sessionResponse },
  }),
  ssoDeviceStart: endpoint({
    method: 'POST',
    path: '/api/v1/auth/sso/:tenant/device',
    auth: 'public',
    tags: ['sso'],
    summary: "CLI sign-in without a browser here: starts the provider's device authorization grant",
    params: z.object({ tenant: tenantSlugSchema }),
    response: {
      200: z.object({
        handle: z.string().describe('Poll with this; it is not the device code'),
        userCode: z.string(),
        verificationUri: z.string(),
        verificationUriComplete: z.string().nullable(),
        expiresIn: z.number(),
        interval: z.number(),
      }),
    },
  }),
  ssoDevicePoll: endpoint({
    method: 'POST',
    path: '/api/v1/auth/sso/device/poll',
    auth: 'public',
    tags: ['sso'],
    summary: 'CLI device sign-in: 202 while the person has not approved yet, then the session token once',
    body: z.strictObject({ handle: z.string().min(16).max(128) }),
    response: { 200: sessionResponse, 202: z.object({ pending: z.literal(true) }) },
  }),
};
