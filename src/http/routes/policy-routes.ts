/** Access policies: who may ask for what, for how long; edited as new versions, removed by archiving. */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import type { AppDeps } from '../../app/deps.js';
import { createPolicy, listPolicies, removePolicy, updatePolicy, type PolicyView } from '../../app/policies.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';

const policyJson = (p: PolicyView) => ({ ...p, createdAt: p.createdAt.toISOString() });

export const policyRoutes =
  (deps: AppDeps): RouteModule =>
  (app) => {
    app.route({
      ...routeOf(endpoints.createPolicy),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.manage');
        const p = principalOf(request);
        const policy = await createPolicy(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.body);
        return reply.status(201).send(policyJson(policy));
      },
    });

    app.route({
      ...routeOf(endpoints.updatePolicy),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.manage');
        const p = principalOf(request);
        return policyJson(await updatePolicy(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.params.policyId, request.body));
      },
    });

    app.route({
      ...routeOf(endpoints.deletePolicy),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.manage');
        const p = principalOf(request);
        await removePolicy(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.params.policyId);
        return reply.status(204).send();
      },
    });

    app.route({
      ...routeOf(endpoints.listPolicies),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.read');
        return { items: (await listPolicies(deps, t.tenantId)).map(policyJson) };
      },
    });
  };
