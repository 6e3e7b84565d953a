/** Personal API tokens of the signed-in operator. The secret is shown once, at creation. */
import { z } from 'zod';
import type { Clock } from '../../core/clock.js';
import { forbidden, notFound } from '../../core/errors.js';
import type { Tokens } from '../../auth/tokens.js';
import { actorOf, principalOf } from '../auth-hook.js';
import type { ZodApp } from '../server.js';
import { name } from '../schemas.js';

const DAY_MS = 24 * 60 * 60 * 1000;

const createBody = z.object({
  name: name(100),
  expiresInDays: z.number().int().min(1).max(3650).optional().describe('Omit for a token that does not expire'),
});
const tokenView = z.object({
  id: z.uuid(),
  name: z.string(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().nullable(),
  lastUsedAt: z.iso.datetime().nullable(),
});
const created = z.object({
  id: z.uuid(),
  name: z.string(),
  token: z.string().describe('Shown only in this response; store it now'),
  expiresAt: z.iso.datetime().nullable(),
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function tokenRoutes(deps: { tokens: Tokens; clock: Clock }) {
  const { tokens, clock } = deps;
  return (app: ZodApp) => {
    app.post(
      '/api/v1/tokens',
      { schema: { tags: ['tokens'], summary: 'Create a personal API token', body: createBody, response: { 201: created } } },
      async (request, reply) => {
        const principal = principalOf(request);
        // A leaked API token must not be able to mint fresh ones that outlive its revocation.
        if (principal.kind !== 'session') throw forbidden('API tokens can only be created from a signed-in session');
        const { name, expiresInDays } = request.body;
        const expiresAt = expiresInDays === undefined ? null : new Date(clock.now().getTime() + expiresInDays * DAY_MS);
        const t = await tokens.createApiToken({ operatorId: principal.operatorId, name, expiresAt, ssoTenantId: principal.ssoTenantId }, actorOf(principal));
        return reply.status(201).send({ id: t.id, name: t.name, token: t.token, expiresAt: iso(t.expiresAt) });
      },
    );

    app.get(
      '/api/v1/tokens',
      { schema: { tags: ['tokens'], summary: 'My live API tokens (no secrets)', response: { 200: z.object({ items: z.array(tokenView) }) } } },
      async (request) => {
        const items = await tokens.listApiTokens(principalOf(request).operatorId);
        return {
          items: items.map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString(), expiresAt: iso(t.expiresAt), lastUsedAt: iso(t.lastUsedAt) })),
        };
      },
    );

    app.delete(
      '/api/v1/tokens/:id',
      {
        schema: { tags: ['tokens'], summary: 'Revoke one of my tokens', params: z.object({ id: z.uuid() }), response: { 204: z.null() } },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        if (!(await tokens.revoke(request.params.id, principal.operatorId, actorOf(principal)))) throw notFound('token');
        return reply.status(204).send(null);
      },
    );
  };
}
