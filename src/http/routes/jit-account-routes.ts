/** JIT accounts: the person's (or, for admins, everyone's) accounts; enable again, rotate the password, delete. */
import { z } from 'zod';
import { getGrant } from '../../app/grants.js';
import { deleteJitAccount } from '../../app/delete-jit-account.js';
import { enableJitAccount, listJitAccounts } from '../../app/jit-accounts.js';
import { rotateJitAccountPassword } from '../../app/rotate-jit-password.js';
import { principalOf } from '../auth-hook.js';
import { decodeCursor, encodeCursor, oneStringKey, pageQuerySchema, pageSchema } from '../pagination.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';
import { durationSeconds, grantJson, grantSchema, name, reason, text, uuidParam } from '../schemas.js';
import { connectSchema, type GrantRouteDeps } from './grant-routes.js';
import { connectDetails } from '../../app/connect-details.js';

const accountSchema = z.object({
  id: z.string(),
  username: z.string(),
  status: z.string(),
  targetId: z.string(),
  targetName: z.string(),
  targetKind: z.string(),
  canRotate: z.boolean(),
  operatorId: z.string(),
  operatorEmail: z.string(),
  lastGrantId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const rotatedSchema = z.object({
  accountId: z.string(),
  grantId: z.string(),
  username: z.string(),
  password: z.string().describe('Shown once; not stored'),
  connect: connectSchema.optional().describe('How to connect: where, a ready command, and when the access ends'),
});

const accountParams = tenantParamsSchema.extend({ accountId: uuidParam });

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
          params: accountParams,
          body: z.strictObject({
            reason: reason(1000, 'a reason is required'),
            durationSeconds: durationSeconds.optional(),
            entitlements: z.array(name(256)).max(50).optional(),
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

    app.post(
      '/api/v1/tenants/:tenant/jit-accounts/:accountId/rotate',
      {
        schema: {
          tags: ['jit-accounts'],
          summary: 'Set a fresh password on your enabled JIT account; the old one stops working at once. Shown once.',
          params: accountParams,
          body: z.strictObject({ totp: z.string().regex(/^\d{6}$/, { error: 'a 6-digit code' }).optional() }),
          response: { 200: rotatedSchema },
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'requests.create');
        const p = principalOf(request);
        const rotated = await rotateJitAccountPassword(deps, { type: 'operator', id: p.operatorId }, t.tenantId, p.operatorId, request.params.accountId, request.body.totp);
        const connect = await connectDetails(deps, t.tenantId, rotated.grantId, rotated.username);
        return reply.header('cache-control', 'no-store').send({ ...rotated, ...(connect ? { connect } : {}) });
      },
    );

    app.delete(
      '/api/v1/tenants/:tenant/jit-accounts/:accountId',
      {
        schema: {
          tags: ['jit-accounts'],
          summary: 'Delete a JIT account no grant holds: removed from its target; a later request creates a fresh one',
          params: accountParams,
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        await deleteJitAccount(deps, { type: 'operator', id: p.operatorId }, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, request.params.accountId);
        return reply.status(204).send();
      },
    );
  };
