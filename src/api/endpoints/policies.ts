import { z } from 'zod';
import { roles } from '../../core/roles.js';
import { policyRulesSchema } from '../../core/policy-rules.js';
import { endpoint } from '../endpoint.js';
import { uuidParam, durationSeconds, name, tenantParamsSchema } from '../fields.js';

export const policySchema = z.object({
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
export const policyBodySchema = z.strictObject({
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

export const policyEndpoints = {
  createPolicy: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/policies',
    auth: 'session',
    tags: ['policies'],
    params: tenantParamsSchema,
    body: policyBodySchema,
    response: { 201: policySchema },
  }),
  updatePolicy: endpoint({
    method: 'PUT',
    path: '/api/v1/tenants/:tenant/policies/:policyId',
    auth: 'session',
    tags: ['policies'],
    summary: 'Edit a policy: saves a new version (new id); pending requests and running grants keep the old rules',
    params: tenantParamsSchema.extend({ policyId: uuidParam }),
    body: policyBodySchema,
    response: { 200: policySchema },
  }),
  deletePolicy: endpoint({
    method: 'DELETE',
    path: '/api/v1/tenants/:tenant/policies/:policyId',
    auth: 'session',
    tags: ['policies'],
    summary: 'Remove a policy: no new requests under it; what is pending or running under it goes on',
    params: tenantParamsSchema.extend({ policyId: uuidParam }),
  }),
  listPolicies: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/policies',
    auth: 'session',
    tags: ['policies'],
    params: tenantParamsSchema,
    response: { 200: z.object({ items: z.array(policySchema) }) },
  }),
};
