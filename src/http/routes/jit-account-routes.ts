/** JIT accounts: the person's (or, for admins, everyone's) accounts, and "enable again". */
import { z } from 'zod';
import { getGrant } from '../../app/grants.js';
import { enableJitAccount, listJitAccounts } from '../../app/jit-accounts.js';
import { principalOf } from '../auth-hook.js';
import { decodeCursor, encodeCursor, oneStringKey, pageQuerySchema, pageSchema } from '../pagination.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';
import { durationSeconds, grantJson, grantSchema, text, uuidParam } from '../schemas.js';
import type { GrantRouteDeps } from './grant-routes.js';

const accountSchema = z.object({
  id: z.string(),
  username: z.string(),
  status: z.string(),
  targetId: z.string(),
  targetName: z.string(),
  operatorId: z.string(),
  operatorEmail: z.string(),
  lastGrantId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const jitAccountRoutes =
  (deps: GrantRouteDeps): RouteModule =>
  (app) => {
    app.get(
      '/api/v1/tenants/:tenant/jit-accounts',
      {
        schema: {
          tags: ['jit-accounts'],
          params: tenantParamsSchema,
          querystring: pageQuerySchema.extend({ mine: z.enum(['true', 'false']).optional() }),
          response: { 200: pageSchema(accountSchema) },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        const after = decodeCursor(request.query.cursor, oneStringKey)?.[0];
        const page = await listJitAccounts(deps, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, {
          mine: request.query.mine === 'true',
          limit: request.query.limit,
          after,
        });
        return {
          items: page.items.map((a) => ({ ...a, createdAt: a.createdAt.toISOString(), updatedAt: a.updatedAt.toISOString() })),
          nextCursor: page.next ? encodeCursor([page.next]) : null,
        };
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/jit-accounts/:accountId/enable',
      {
        schema: {
          tags: ['jit-accounts'],
          summary: 'Enable a previously used JIT account again, with a new reason and duration',
          params: tenantParamsSchema.extend({ accountId: uuidParam }),
          body: z.strictObject({
            reason: text(1000).min(1, { error: 'a reason is required' }),
            durationSeconds: durationSeconds.optional(),
            entitlements: z.array(z.string().min(1).max(256)).max(50).optional(),
            policyId: uuidParam.optional(),
            ticket: text(128).optional(),
            totp: z.string().regex(/^\d{6}$/, { error: 'a 6-digit code' }).optional(),
            startAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
            emergency: z.boolean().optional(),
          }),
          response: { 201: grantSchema },
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'requests.create');
        const p = principalOf(request);
        const grant = await enableJitAccount(
          deps,
          { type: 'operator', id: p.operatorId },
          t.tenantId,
          { operatorId: p.operatorId, email: p.email, displayName: p.displayName, roles: t.roles },
          request.params.accountId,
          { ...request.body, startAt: request.body.startAt ? new Date(request.body.startAt) : null },
        );
        if (grant.state === 'activating') await deps.runNow(grant.id, 'activate');
        return reply.status(201).send(grantJson(await getGrant(deps, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, grant.id)));
      },
    );
  };
