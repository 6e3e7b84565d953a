import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { uuidParam, durationSeconds, name, reason, text, grantSchema, connectInfoSchema, tenantParamsSchema, pageQuerySchema, pageSchema } from '../fields.js';

export const accountSchema = z.object({
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
  /** A binding to an existing user (linux-agent-users, active-directory-groups): when an administrator confirmed it, else null. */
  confirmedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const rotatedSchema = z.object({
  accountId: z.string(),
  grantId: z.string(),
  username: z.string(),
  password: z.string().describe('Shown once; not stored'),
  connect: connectInfoSchema.nullable(),
});
export const accountParams = tenantParamsSchema.extend({ accountId: uuidParam });

export const jitAccountEndpoints = {
  listJitAccounts: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/jit-accounts',
    auth: 'session',
    tags: ['jit-accounts'],
    params: tenantParamsSchema,
    query: pageQuerySchema.extend({ mine: z.enum(['true', 'false']).optional() }),
    response: { 200: pageSchema(accountSchema) },
  }),
  enableJitAccount: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/jit-accounts/:accountId/enable',
    auth: 'session',
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
  }),
  rotateJitAccount: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/jit-accounts/:accountId/rotate',
    auth: 'session',
    tags: ['jit-accounts'],
    summary: 'Set a fresh password on your enabled JIT account; the old one stops working at once. Shown once.',
    params: accountParams,
    body: z.strictObject({ totp: z.string().regex(/^\d{6}$/, { error: 'a 6-digit code' }).optional() }),
    response: { 200: rotatedSchema },
  }),
  confirmBinding: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/jit-accounts/:accountId/confirm',
    auth: 'session',
    tags: ['jit-accounts'],
    summary: "Confirm that a person's binding to an existing user is theirs (administrators, not the person): on linux-agent-users the gateway logs in as that user only after it; on active-directory-groups a user whose userPrincipalName is not the person's address gets groups only after it",
    params: accountParams,
    response: { 200: z.object({ confirmedAt: z.string() }) },
  }),
  deleteJitAccount: endpoint({
    method: 'DELETE',
    path: '/api/v1/tenants/:tenant/jit-accounts/:accountId',
    auth: 'session',
    tags: ['jit-accounts'],
    summary: 'Delete a JIT account no grant holds: removed from its target; a later request creates a fresh one',
    params: accountParams,
  }),
};
