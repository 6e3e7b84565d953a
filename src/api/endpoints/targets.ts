import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { uuidParam, name, text, tenantParamsSchema, pageQuerySchema, pageSchema } from '../fields.js';

export const targetSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.string(),
  accountName: z
    .enum(['per-person', 'requester'])
    .describe("'per-person': a JIT account whose name the requester may choose; 'requester': the credential names the requester (their e-mail), no name to choose"),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const checkSchema = z.object({ ok: z.boolean(), items: z.array(z.object({ name: z.string(), ok: z.boolean(), message: z.string() })) });
export const targetParams = tenantParamsSchema.extend({ targetId: uuidParam });

export const targetEndpoints = {
  createTarget: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/targets',
    auth: 'session',
    tags: ['targets'],
    summary: 'Connect a target; its configuration is validated, stored encrypted and checked',
    params: tenantParamsSchema,
    body: z.strictObject({
      name: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { error: 'use letters, digits, spaces, . _ -' }),
      kind: name(32),
      config: z.record(z.string(), z.unknown()),
    }),
    response: { 201: z.object({ target: targetSchema, check: checkSchema }) },
  }),
  listTargets: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/targets',
    auth: 'session',
    tags: ['targets'],
    params: tenantParamsSchema,
    query: pageQuerySchema,
    response: { 200: pageSchema(targetSchema) },
  }),
  getTarget: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/targets/:targetId',
    auth: 'session',
    tags: ['targets'],
    params: targetParams,
    response: { 200: targetSchema },
  }),
  updateTarget: endpoint({
    method: 'PUT',
    path: '/api/v1/tenants/:tenant/targets/:targetId',
    auth: 'session',
    tags: ['targets'],
    summary: 'Rename a target or change its settings; config keys left out keep their value. New settings are tested first',
    params: targetParams,
    body: z.strictObject({
      name: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { error: 'use letters, digits, spaces, . _ -' }).optional(),
      config: z.record(z.string(), z.unknown()).optional(),
    }),
    response: { 200: z.object({ target: targetSchema, check: checkSchema.nullable() }) },
  }),
  checkTarget: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/targets/:targetId/check',
    auth: 'session',
    tags: ['targets'],
    summary: 'Test connection',
    params: targetParams,
    response: { 200: checkSchema },
  }),
  listEntitlements: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/targets/:targetId/entitlements',
    auth: 'session',
    tags: ['targets'],
    summary: 'What can be granted on this target, live from the target',
    params: targetParams,
    query: pageQuerySchema.extend({ search: text(100).optional() }),
    response: {
      200: pageSchema(z.object({ externalId: z.string(), displayName: z.string(), description: z.string().optional() })),
    },
  }),
};
