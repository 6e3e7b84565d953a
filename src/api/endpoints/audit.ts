import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { text, tenantParamsSchema, pageQuerySchema, pageSchema } from '../fields.js';

export const eventSchema = z.object({
  seq: z.string(),
  id: z.string(),
  at: z.string(),
  tenant_id: z.string().nullable(),
  actor_type: z.string(),
  actor_id: z.string().nullable(),
  action: z.string(),
  subject_type: z.string(),
  subject_id: z.string().nullable(),
  reason: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  position: z.string().nullable(),
  prev_hash: z.string().nullable(),
  hash: z.string().nullable(),
  sealed_at: z.string().nullable(),
  sealed: z.boolean(),
});
/** The list shows people and things by name; the ids stay in the event. */
export const listedEventSchema = eventSchema.extend({
  names: z.object({
    actor: z.string().nullable().describe("The acting operator's email"),
    person: z.string().nullable().describe("Whose access or account it is, or the operator acted on"),
    target: z.string().nullable(),
    account: z.string().nullable().describe('The account name on the target'),
    subject: z.string().nullable().describe("The subject's own name (policy, group, target, operator)"),
  }),
});
export const verifySchema = z.object({
  ok: z.boolean(),
  logId: z.string(),
  checked: z.number(),
  unsealed: z.number(),
  problems: z.array(
    z.object({
      tenant_id: z.string().nullable(),
      tenant_slug: z.string().nullable().describe("The chain's tenant as people name it (null: the platform chain, or a tenant since deleted)"),
      position: z.string().nullable(),
      problem: z.string(),
    }),
  ),
  truncated: z.boolean(),
  chains: z.array(
    z.object({
      tenant_id: z.string().nullable(),
      tenant_slug: z.string().nullable(),
      events: z.number(),
      head: z.object({ position: z.string(), hash: z.string() }).nullable(),
      checkpoint: z.object({ position: z.string(), at: z.string() }).nullable(),
    }),
  ),
  checkpoints: z.object({ trusted: z.number(), otherLogs: z.number(), unknownKey: z.number() }),
  unreadableWitnessLines: z.number(),
});
export const filterSchema = z.strictObject({
  action: z.string().max(100).regex(/^[a-z_.*]+$/, { error: 'an action such as grant.revoked or grant.*' }).optional(),
  actorId: text(100).optional(),
  subjectId: text(100).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

export const auditEndpoints = {
  listAudit: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/audit',
    auth: 'session',
    tags: ['audit'],
    params: tenantParamsSchema,
    query: pageQuerySchema.extend(filterSchema.shape),
    response: { 200: pageSchema(listedEventSchema) },
  }),
  exportAudit: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/audit/export',
    auth: 'session',
    tags: ['audit'],
    summary: 'Every event of the tenant as JSON lines, oldest first, with its hashes',
    params: tenantParamsSchema,
    query: filterSchema,
  }),
  verifyPlatformAudit: endpoint({
    method: 'POST',
    path: '/api/v1/audit/verify',
    auth: 'session',
    tags: ['audit'],
    summary: 'Check every chain against itself and the signed checkpoints: edited, deleted, reordered or rewritten events are reported',
    response: { 200: verifySchema },
  }),
  verifyAudit: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/audit/verify',
    auth: 'session',
    tags: ['audit'],
    summary: "Check the tenant's chain against itself and the signed checkpoints",
    params: tenantParamsSchema,
    response: { 200: verifySchema },
  }),
  auditPublicKey: endpoint({
    method: 'GET',
    path: '/api/v1/audit/public-key',
    auth: 'session',
    tags: ['audit'],
    summary: 'The public key that checkpoints are signed with, for offline verification of exports',
    response: { 200: z.object({ keyId: z.string(), publicKeyPem: z.string() }) },
  }),
  listAlerts: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/alerts',
    auth: 'session',
    tags: ['audit'],
    summary: 'Open problems that need a person (e.g. a revocation that keeps failing), newest first, in pages',
    params: tenantParamsSchema,
    query: pageQuerySchema.extend({ all: z.enum(['true', 'false']).optional() }),
    response: {
      200: pageSchema(
        z.object({
          id: z.string(),
          grantId: z.string().nullable(),
          severity: z.string(),
          message: z.string(),
          createdAt: z.string(),
          resolvedAt: z.string().nullable(),
        }),
      ),
    },
  }),
};
