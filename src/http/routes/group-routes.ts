/** Operator groups: requesters and approvers named by group in policies. */
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.js';
import { createGroup, listGroups, setGroupMembership } from '../../app/operator-groups.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';
import { uuidParam } from '../schemas.js';

const groupSchema = z.object({ id: z.string(), name: z.string(), memberIds: z.array(z.string()), createdAt: z.string() });
const memberParams = tenantParamsSchema.extend({ groupId: uuidParam, operatorId: uuidParam });

export const groupRoutes =
  (deps: AppDeps): RouteModule =>
  (app) => {
    app.get(
      '/api/v1/tenants/:tenant/groups',
      { schema: { tags: ['groups'], params: tenantParamsSchema, response: { 200: z.object({ items: z.array(groupSchema) }) } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.read');
        return { items: (await listGroups(deps, t.tenantId)).map((g) => ({ ...g, createdAt: g.createdAt.toISOString() })) };
      },
    );
    app.post(
      '/api/v1/tenants/:tenant/groups',
      {
        schema: {
          tags: ['groups'],
          params: tenantParamsSchema,
          body: z.strictObject({ name: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { error: 'use letters, digits, spaces, . _ -' }), memberIds: z.array(uuidParam).max(500).default([]) }),
          response: { 201: groupSchema },
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        const g = await createGroup(deps, { type: 'operator', id: principalOf(request).operatorId }, t.tenantId, request.body);
        return reply.status(201).send({ ...g, createdAt: g.createdAt.toISOString() });
      },
    );
    for (const [method, member] of [['PUT', true], ['DELETE', false]] as const) {
      app.route({
        method,
        url: '/api/v1/tenants/:tenant/groups/:groupId/members/:operatorId',
        schema: { tags: ['groups'], params: memberParams },
        handler: async (request, reply) => {
          const t = await requireTenant(request, request.params.tenant, 'members.manage');
          await setGroupMembership(deps, { type: 'operator', id: principalOf(request).operatorId }, t.tenantId, request.params.groupId, request.params.operatorId, member);
          return reply.status(204).send();
        },
      });
    }
  };
