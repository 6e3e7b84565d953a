/** Own password, invitation links (preview, accept) and a platform administrator's sign-in reset. */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import type { FastifyRequest } from 'fastify';
import { AppError, forbidden } from '../../core/errors.js';
import type { Invitations } from '../../auth/invitations.js';
import type { OwnPassword } from '../../auth/own-password.js';
import type { Tokens } from '../../auth/tokens.js';
import { actorOf, principalOf } from '../auth-hook.js';
import type { ZodApp } from '../server.js';

export const ACCEPT_ATTEMPTS_PER_MINUTE = 20;

/**
 * Where links in invitations point: the configured public URL (TIMEBOX_PUBLIC_URL) when there is
 * one, so a request's Host header never decides what an emailed link opens; else this server as
 * the admin reached it (behind a proxy: with TIMEBOX_TRUST_PROXY).
 */
export const linkBase = (publicUrl: string | undefined) => (request: FastifyRequest) =>
  publicUrl ? publicUrl.replace(/\/+$/, '') : `${request.protocol}://${request.host}`;

export const toIssued = (i: Awaited<ReturnType<Invitations['inviteMember']>>) => ({
  invitation: { ...i.invitation, expiresAt: i.invitation.expiresAt.toISOString() },
  delivery: i.delivery,
  link: i.link,
});

export function identityRoutes(deps: { invitations: Invitations; ownPassword: OwnPassword; tokens: Pick<Tokens, 'revokeAllOf'>; publicUrl?: string | undefined }) {
  const { invitations, ownPassword, tokens } = deps;
  const originOf = linkBase(deps.publicUrl);
  return (app: ZodApp) => {
    app.route({
      ...routeOf(endpoints.changePassword),
      handler: async (request) => {
        const principal = principalOf(request);
        const r = await ownPassword.change(principal, request.body.currentPassword, request.body.newPassword, request.ip);
        return { otherSessionsEnded: r.sessionsEnded };
      },
    });

    const limited = {
      public: true,
      rateLimit: {
        max: ACCEPT_ATTEMPTS_PER_MINUTE,
        timeWindow: 60_000,
        errorResponseBuilder: (_req: unknown, ctx: { after: string }) => new AppError('rate_limited', `too many attempts; try again in ${ctx.after}`),
      },
    };

    app.route({
      ...routeOf(endpoints.previewInvitation, { config: limited }),
      handler: async (request) => {
        const p = await invitations.preview(request.body.token);
        return { ...p, expiresAt: p.expiresAt.toISOString() };
      },
    });

    app.route({
      ...routeOf(endpoints.acceptInvitation, { config: limited }),
      handler: async (request) => invitations.acceptWithPassword(request.body),
    });

    app.route({
      ...routeOf(endpoints.acceptInvitationSignedIn),
      handler: async (request) => {
        const principal = principalOf(request);
        if (principal.kind !== 'session') throw forbidden('accept invitations from a signed-in session, not with an API token');
        return invitations.acceptSignedIn(request.body.token, { operatorId: principal.operatorId, email: principal.email, ssoTenantId: principal.ssoTenantId });
      },
    });

    app.route({
      ...routeOf(endpoints.resetSignIn),
      handler: async (request, reply) => {
        const principal = principalOf(request);
        if (!principal.platformAdmin) throw forbidden("only a platform administrator can reset someone's sign-in");
        if (principal.operatorId === request.params.operatorId) throw forbidden('change your own password with POST /api/v1/me/password');
        const id = request.params.operatorId;
        const issued = await invitations.resetSignIn(id, actorOf(principal), originOf(request), (tx) => tokens.revokeAllOf(id, { apiTokens: true }, tx));
        return reply.status(201).send(toIssued(issued));
      },
    });
  };
}
