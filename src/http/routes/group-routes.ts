/** Operator groups: requesters and approvers named by group in policies. */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import type { AppDeps } from '../../app/deps.js';
import { createGroup, listGroups, setGroupMembership } from '../../app/operator-groups.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';

export const groupRoutes =
  (deps: AppDeps): RouteModule =>
  (app) => {
    app.route({
      ...routeOf(endpoints.listGroups),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.read');
        return { items: (await listGroups(deps, t.tenantId)).map((g) => ({ ...g, createdAt: g.createdAt.toISOString() })) };
      },
    });
    app.route({
      ...routeOf(endpoints.createGroup),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        const g = await createGroup(deps, { type: 'operator', id: principalOf(request).operatorId }, t.tenantId, request.body);
        return reply.status(201).send({ ...g, createdAt: g.createdAt.toISOString() });
      },
    });
    for (const [key, member] of [['addGroupMember', true], ['removeGroupMember', false]] as const) {
      app.route({
        ...routeOf(endpoints[key]),
        handler: async (request, reply) => {
          const t = await requireTenant(request, request.params.tenant, 'members.manage');
          await setGroupMembership(deps, { type: 'operator', id: principalOf(request).operatorId }, t.tenantId, request.params.groupId, request.params.operatorId, member);
          return reply.status(204).send();
        },
      });
    }
  };
