/** Personal API tokens of the signed-in operator. The secret is shown once, at creation. */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import type { Clock } from '../../core/clock.js';
import { forbidden, notFound } from '../../core/errors.js';
import type { Tokens } from '../../auth/tokens.js';
import { actorOf, principalOf } from '../auth-hook.js';
import type { ZodApp } from '../server.js';

const DAY_MS = 24 * 60 * 60 * 1000;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function tokenRoutes(deps: { tokens: Tokens; clock: Clock }) {
  const { tokens, clock } = deps;
  return (app: ZodApp) => {
    app.route({
      ...routeOf(endpoints.createToken),
      handler: async (request, reply) => {
        const principal = principalOf(request);
        // A leaked API token must not be able to mint fresh ones that outlive its revocation.
        if (principal.kind !== 'session') throw forbidden('API tokens can only be created from a signed-in session');
        const { name, expiresInDays } = request.body;
        const expiresAt = expiresInDays === undefined ? null : new Date(clock.now().getTime() + expiresInDays * DAY_MS);
        const t = await tokens.createApiToken({ operatorId: principal.operatorId, name, expiresAt, ssoTenantId: principal.ssoTenantId }, actorOf(principal));
        return reply.status(201).send({ id: t.id, name: t.name, token: t.token, expiresAt: iso(t.expiresAt) });
      },
    });

    app.route({
      ...routeOf(endpoints.listTokens),
      handler: async (request) => {
        const principal = principalOf(request);
        const items = await tokens.listApiTokens(principal.operatorId, principal);
        return {
          items: items.map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString(), expiresAt: iso(t.expiresAt), lastUsedAt: iso(t.lastUsedAt) })),
        };
      },
    });

    app.route({
      ...routeOf(endpoints.revokeToken),
      handler: async (request, reply) => {
        const principal = principalOf(request);
        if (!(await tokens.revoke(request.params.id, principal.operatorId, actorOf(principal), principal))) throw notFound('token');
        return reply.status(204).send(null);
      },
    });
  };
}
