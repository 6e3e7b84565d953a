import { z } from 'zod';
import { roles } from '../../core/roles.js';
import { endpoint } from '../endpoint.js';
import { MAX_PASSWORD_INPUT, name } from '../fields.js';

export const tokenField = z.string().trim().min(1).max(200).describe('The token at the end of the invitation link (/invite/<token>)');
export const invitationIssued = z.object({
  invitation: z.object({ id: z.guid(), email: z.string(), roles: z.array(z.enum(roles)), expiresAt: z.iso.datetime() }),
  delivery: z.enum(['email', 'link']).describe('email: sent to the invitee; link: no SMTP settings, pass `link` on yourself'),
  link: z.string().nullable().describe('The one-time link, shown only in this response (null when e-mailed)'),
});
export const accepted = z.object({ email: z.string(), tenant: z.object({ slug: z.string(), name: z.string() }).nullable() });

export const identityEndpoints = {
  changePassword: endpoint({
    method: 'POST',
    path: '/api/v1/me/password',
    auth: 'session',
    beforePasswordChange: true,
    tags: ['auth'],
    summary: 'Change my password (at least 12 characters, not the email, hard to guess); ends my other sessions',
    body: z.strictObject({
      currentPassword: z.string().min(1).max(MAX_PASSWORD_INPUT),
      newPassword: z.string().min(1).max(MAX_PASSWORD_INPUT),
    }),
    response: { 200: z.object({ otherSessionsEnded: z.number().int() }) },
  }),
  previewInvitation: endpoint({
    method: 'POST',
    path: '/api/v1/invitations/preview',
    auth: 'public',
    tags: ['invitations'],
    summary: 'What an invitation link is for (tenant, roles, address, expiry); says nothing about existing accounts',
    body: z.strictObject({ token: tokenField }),
    response: {
      200: z.object({
        email: z.string(),
        kind: z.enum(['member', 'reset']),
        tenant: z.object({ slug: z.string(), name: z.string() }).nullable(),
        roles: z.array(z.enum(roles)),
        expiresAt: z.iso.datetime(),
      }),
    },
  }),
  acceptInvitation: endpoint({
    method: 'POST',
    path: '/api/v1/invitations/accept',
    auth: 'public',
    tags: ['invitations'],
    summary: 'Accept an invitation by choosing my own password (new account, or after a reset); then sign in',
    body: z.strictObject({
      token: tokenField,
      password: z.string().min(1).max(MAX_PASSWORD_INPUT),
      displayName: name(200).optional(),
    }),
    response: { 200: accepted },
  }),
  acceptInvitationSignedIn: endpoint({
    method: 'POST',
    path: '/api/v1/me/invitations/accept',
    auth: 'session',
    tags: ['invitations'],
    summary: 'Accept an invitation to another tenant while signed in as the invited address (consent)',
    body: z.strictObject({ token: tokenField }),
    response: { 200: accepted },
  }),
  resetSignIn: endpoint({
    method: 'POST',
    path: '/api/v1/operators/:operatorId/reset-sign-in',
    auth: 'session',
    tags: ['invitations'],
    summary: "Platform administrators: clear someone's password, end their sessions and API tokens, and issue a reset link",
    params: z.object({ operatorId: z.guid({ error: 'must be an operator id (UUID)' }) }),
    response: { 201: invitationIssued },
  }),
};
