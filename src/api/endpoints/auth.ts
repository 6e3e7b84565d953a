import { z } from 'zod';
import { roles } from '../../core/roles.js';
import { endpoint } from '../endpoint.js';
import { MAX_PASSWORD_INPUT } from '../fields.js';

export const operatorSummary = z.object({ id: z.guid(), email: z.string(), displayName: z.string() });
export const loginBody = z.strictObject({
  email: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(MAX_PASSWORD_INPUT),
  totp: z.string().max(32).optional().describe('Code from the authenticator app; needed once one is enrolled'),
});
export const loginResponse = z.object({
  token: z.string().describe('Session token; also set as the timebox_session cookie'),
  csrfToken: z.string().describe('Send as x-csrf-token on unsafe requests authenticated by the cookie; also set as the readable timebox_csrf cookie'),
  expiresAt: z.iso.datetime(),
  operator: operatorSummary,
  passwordChangeRequired: z.boolean().describe('Only POST /api/v1/me/password, /me and sign-out work until the password is changed'),
});
export const meResponse = z.object({
  operator: operatorSummary.extend({
    platformAdmin: z.boolean(),
    mfaEnabled: z.boolean(),
    passwordChangeRequired: z.boolean().describe('A password someone else set: change it (POST /api/v1/me/password) before anything else'),
  }),
  /** The credential of this request: a browser session or an API token, and when it ends. */
  session: z.object({ kind: z.enum(['session', 'api']), expiresAt: z.iso.datetime().nullable() }),
  memberships: z.array(
    z.object({ tenant: z.object({ id: z.guid(), slug: z.string(), name: z.string() }), roles: z.array(z.enum(roles)) }),
  ),
});

export const authEndpoints = {
  login: endpoint({
    method: 'POST',
    path: '/api/v1/auth/login',
    auth: 'public',
    tags: ['auth'],
    summary: 'Sign in with email, password and (once enrolled) an authenticator code; starts a 12-hour session',
    body: loginBody,
    response: { 200: loginResponse },
  }),
  logout: endpoint({
    method: 'POST',
    path: '/api/v1/auth/logout',
    auth: 'session',
    beforePasswordChange: true,
    tags: ['auth'],
    summary: 'End the current session',
    response: { 204: z.null() },
  }),
  me: endpoint({
    method: 'GET',
    path: '/api/v1/me',
    auth: 'session',
    beforePasswordChange: true,
    tags: ['auth'],
    summary: 'The signed-in operator and their tenants',
    response: { 200: meResponse },
  }),
};
