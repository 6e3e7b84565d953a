/** Access policies: who may ask for what, for how long; edited as new versions, removed by archiving. */
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.js';
import { createPolicy, listPolicies, removePolicy, updatePolicy, type PolicyView } from '../../app/policies.js';
import { roles } from '../../core/roles.js';
import { policyRulesSchema } from '../../core/policy-rules.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';
import { durationSeconds, name, uuidParam } from '../schemas.js';

const policySchema = z.object({
  id: z.string(),
  name: z.string(),
  targetId: z.string().nullable(),
  entitlements: z.array(z.string()).nullable(),
  requesterRoles: z.array(z.string()),
  maxDurationSeconds: z.number(),
  defaultDurationSeconds: z.number(),
  reasonMinLength: z.number(),
  pendingTtlSeconds: z.number(),
  rules: policyRulesSchema,
  createdAt: z.string(),
});
const policyBodySchema = z.strictObject({
  name: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { error: 'use letters, digits, spaces, . _ -' }),
  targetId: uuidParam.nullish(),
  entitlements: z.array(name(256)).min(1).max(100).nullish(),
  requesterRoles: z.array(z.enum(roles)).default([]),
  maxDurationSeconds: durationSeconds,
  defaultDurationSeconds: durationSeconds,
  reasonMinLength: z.number().int().min(0).max(500).optional(),
  pendingTtlSeconds: z.number().int().min(60).max(30 * 86400).optional(),
  rules: policyRulesSchema.optional(),
});
const policyJson = (p: PolicyView) => ({ ...p, createdAt: p.createdAt.toISOString() });

export const policyRoutes =
  (deps: AppDeps): RouteModule =>
  (app) => {
    app.post(
      '/api/v1/tenants/:tenant/policies',
      {
        schema: {
          tags: ['policies'],
          params: tenantParamsSchema,
          body: policyBodySchema,
          response: { 201: policySchema },
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.manage');
        const p = principalOf(request);
        const policy = await createPolicy(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.body);
        return reply.status(201).send(policyJson(policy));
      },
    );

    app.put(
      '/api/v1/tenants/:tenant/policies/:policyId',
      {
        schema: {
          tags: ['policies'],
          summary: 'Edit a policy: saves a new version (new id); pending requests and running grants keep the old rules',
          params: tenantParamsSchema.extend({ policyId: uuidParam }),
          body: policyBodySchema,
          response: { 200: policySchema },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.manage');
        const p = principalOf(request);
        return policyJson(await updatePolicy(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.params.policyId, request.body));
      },
    );

    app.delete(
      '/api/v1/tenants/:tenant/policies/:policyId',
      {
        schema: {
          tags: ['policies'],
          summary: 'Remove a policy: no new requests under it; what is pending or running under it goes on',
          params: tenantParamsSchema.extend({ policyId: uuidParam }),
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.manage');
        const p = principalOf(request);
        await removePolicy(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.params.policyId);
        return reply.status(204).send();
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/policies',
      { schema: { tags: ['policies'], params: tenantParamsSchema, response: { 200: z.object({ items: z.array(policySchema) }) } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.read');
        return { items: (await listPolicies(deps, t.tenantId)).map(policyJson) };
      },
    );
  };
