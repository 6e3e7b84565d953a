/** Own password, invitation links (preview, accept) and a platform administrator's sign-in reset. */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError, forbidden } from '../../core/errors.js';
import { roles } from '../../core/roles.js';
import type { Invitations } from '../../auth/invitations.js';
import type { OwnPassword } from '../../auth/own-password.js';
import { MAX_PASSWORD_INPUT } from '../../auth/password-hash.js';
import type { Tokens } from '../../auth/tokens.js';
import { actorOf, principalOf } from '../auth-hook.js';
import type { ZodApp } from '../server.js';

export const ACCEPT_ATTEMPTS_PER_MINUTE = 20;

const tokenField = z.string().trim().min(1).max(200).describe('The token at the end of the invitation link (/invite/<token>)');
export const invitationIssued = z.object({
  invitation: z.object({ id: z.uuid(), email: z.string(), roles: z.array(z.enum(roles)), expiresAt: z.iso.datetime() }),
  delivery: z.enum(['email', 'link']).describe('email: sent to the invitee; link: no SMTP settings, pass `link` on yourself'),
  link: z.string().nullable().describe('The one-time link, shown only in this response (null when e-mailed)'),
});
const accepted = z.object({ email: z.string(), tenant: z.object({ slug: z.string(), name: z.string() }).nullable() });

/** The URL people open: this server as the caller reached it (behind a proxy: with TIMEBOX_TRUST_PROXY). */
export const originOf = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

export const toIssued = (i: Awaited<ReturnType<Invitations['inviteMember']>>) => ({
  invitation: { ...i.invitation, expiresAt: i.invitation.expiresAt.toISOString() },
  delivery: i.delivery,
  link: i.link,
});

export function identityRoutes(deps: { invitations: Invitations; ownPassword: OwnPassword; tokens: Pick<Tokens, 'revokeAllOf'> }) {
  const { invitations, ownPassword, tokens } = deps;
  return (app: ZodApp) => {
    app.post(
      '/api/v1/me/password',
      {
        config: { beforePasswordChange: true },
        schema: {
          tags: ['auth'],
          summary: 'Change my password (at least 12 characters, not the email, hard to guess); ends my other sessions',
          body: z.strictObject({
            currentPassword: z.string().min(1).max(MAX_PASSWORD_INPUT),
            newPassword: z.string().min(1).max(MAX_PASSWORD_INPUT),
          }),
          response: { 200: z.object({ otherSessionsEnded: z.number().int() }) },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const r = await ownPassword.change(principal, request.body.currentPassword, request.body.newPassword);
        return { otherSessionsEnded: r.sessionsEnded };
      },
    );

    const limited = {
      public: true,
      rateLimit: {
        max: ACCEPT_ATTEMPTS_PER_MINUTE,
        timeWindow: 60_000,
        errorResponseBuilder: (_req: unknown, ctx: { after: string }) => new AppError('rate_limited', `too many attempts; try again in ${ctx.after}`),
      },
    };

    app.post(
      '/api/v1/invitations/preview',
      {
        config: limited,
        schema: {
          tags: ['invitations'],
          summary: 'What an invitation link is for (tenant, roles, address, expiry); says nothing about existing accounts',
          security: [],
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
        },
      },
      async (request) => {
        const p = await invitations.preview(request.body.token);
        return { ...p, expiresAt: p.expiresAt.toISOString() };
      },
    );

    app.post(
      '/api/v1/invitations/accept',
      {
        config: limited,
        schema: {
          tags: ['invitations'],
          summary: 'Accept an invitation by choosing my own password (new account, or after a reset); then sign in',
          security: [],
          body: z.strictObject({
            token: tokenField,
            password: z.string().min(1).max(MAX_PASSWORD_INPUT),
            displayName: z.string().trim().min(1).max(200).optional(),
          }),
          response: { 200: accepted },
        },
      },
      async (request) => invitations.acceptWithPassword(request.body),
    );

    app.post(
      '/api/v1/me/invitations/accept',
      {
        schema: {
          tags: ['invitations'],
          summary: 'Accept an invitation to another tenant while signed in as the invited address (consent)',
          body: z.strictObject({ token: tokenField }),
          response: { 200: accepted },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        if (principal.kind !== 'session') throw forbidden('accept invitations from a signed-in session, not with an API token');
        return invitations.acceptSignedIn(request.body.token, { operatorId: principal.operatorId, email: principal.email });
      },
    );

    app.post(
      '/api/v1/operators/:operatorId/reset-sign-in',
      {
        schema: {
          tags: ['invitations'],
          summary: "Platform administrators: clear someone's password, end their sessions and API tokens, and issue a reset link",
          params: z.object({ operatorId: z.uuid({ error: 'must be an operator id (UUID)' }) }),
          response: { 201: invitationIssued },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        if (!principal.platformAdmin) throw forbidden("only a platform administrator can reset someone's sign-in");
        if (principal.operatorId === request.params.operatorId) throw forbidden('change your own password with POST /api/v1/me/password');
        const id = request.params.operatorId;
        const issued = await invitations.resetSignIn(id, actorOf(principal), originOf(request), (tx) => tokens.revokeAllOf(id, { apiTokens: true }, tx));
        return reply.status(201).send(toIssued(issued));
      },
    );
  };
}
