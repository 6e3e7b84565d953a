/** Access policies: who may ask for what, for how long. */
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.js';
import { createPolicy, listPolicies, type PolicyView } from '../../app/policies.js';
import { roles } from '../../core/roles.js';
import { policyRulesSchema } from '../../core/policy-rules.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';
import { durationSeconds, uuidParam } from '../schemas.js';

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
          body: z.strictObject({
            name: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { error: 'use letters, digits, spaces, . _ -' }),
            targetId: uuidParam.nullish(),
            entitlements: z.array(z.string().min(1).max(256)).min(1).max(100).nullish(),
            requesterRoles: z.array(z.enum(roles)).default([]),
            maxDurationSeconds: durationSeconds,
            defaultDurationSeconds: durationSeconds,
            reasonMinLength: z.number().int().min(0).max(500).optional(),
            pendingTtlSeconds: z.number().int().min(60).max(30 * 86400).optional(),
            rules: policyRulesSchema.optional(),
          }),
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

    app.get(
      '/api/v1/tenants/:tenant/policies',
      { schema: { tags: ['policies'], params: tenantParamsSchema, response: { 200: z.object({ items: z.array(policySchema) }) } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.read');
        return { items: (await listPolicies(deps, t.tenantId)).map(policyJson) };
      },
    );
  };
