import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { uuidParam, name, text, tenantParamsSchema, pageQuerySchema, pageSchema } from '../fields.js';

export const checkItemSchema = z.object({ name: z.string(), ok: z.boolean(), message: z.string() });
export const targetSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.string(),
  accountName: z
    .enum(['per-person', 'requester'])
    .describe("'per-person': a JIT account whose name the requester may choose; 'requester': the credential names the requester (their e-mail), no name to choose"),
  createdAt: z.string(),
  updatedAt: z.string(),
  lastCheck: z
    .object({ ok: z.boolean(), at: z.string(), items: z.array(checkItemSchema) })
    .nullable()
    .describe('The last connection test; null before any'),
  broken: z.boolean().describe('The last connection test failed (saved anyway, or failing since): grants may not work'),
});
export const checkSchema = z.object({ ok: z.boolean(), items: z.array(checkItemSchema) });
const saveUnchecked = z
  .boolean()
  .optional()
  .describe('Save even though the connection test fails; the target is then listed as broken until a test passes');
const targetName = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { error: 'use letters, digits, spaces, . _ -' });
export const targetParams = tenantParamsSchema.extend({ targetId: uuidParam });

export const targetEndpoints = {
  createTarget: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/targets',
    auth: 'session',
    tags: ['targets'],
    summary:
      'Connect a target; its configuration is validated and tested before it is stored (encrypted). A failed test is refused (422, details.check) unless saveUnchecked',
    params: tenantParamsSchema,
    body: z.strictObject({
      name: targetName,
      kind: name(32),
      config: z.record(z.string(), z.unknown()),
      saveUnchecked,
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
    summary:
      'Rename a target or change its settings; config keys left out keep their value. New settings are tested first: a failed test is refused (422) unless saveUnchecked, and always while grants are live (409)',
    params: targetParams,
    body: z.strictObject({
      name: targetName.optional(),
      config: z.record(z.string(), z.unknown()).optional(),
      saveUnchecked,
    }),
    response: { 200: z.object({ target: targetSchema, check: checkSchema.nullable() }) },
  }),
  getTargetSettings: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/targets/:targetId/settings',
    auth: 'session',
    tags: ['targets'],
    summary: "A target's stored settings for editing, without its secrets (the kind's writeOnly config keys)",
    params: targetParams,
    response: { 200: z.object({ config: z.record(z.string(), z.unknown()), secretKeys: z.array(z.string()) }) },
  }),
  deleteTarget: endpoint({
    method: 'DELETE',
    path: '/api/v1/tenants/:tenant/targets/:targetId',
    auth: 'session',
    tags: ['targets'],
    summary: 'Delete a target; refused (409) while any of its grants is not over. Past grants and the audit trail keep its name',
    params: targetParams,
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
