import { z } from 'zod';
import { grantStates } from '../../core/lifecycle.js';
import { endpoint } from '../endpoint.js';
import { uuidParam, durationSeconds, name, reason, text, grantSchema, connectInfoSchema, tenantParamsSchema, pageQuerySchema, pageSchema } from '../fields.js';

export const grantParams = tenantParamsSchema.extend({ grantId: uuidParam });
// Only an outer bound: each target kind's own name rule decides (PostgreSQL 63, MariaDB 80, AD 20...).
export const accountNameSchema = name(256);

export const grantEndpoints = {
  requestAccess: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/requests',
    auth: 'session',
    tags: ['grants'],
    summary: 'Ask for entitlements on a target for a duration, with a reason',
    params: tenantParamsSchema,
    body: z.strictObject({
      targetId: uuidParam,
      entitlements: z.array(name(256)).min(1, { error: 'choose at least one entitlement' }).max(50),
      durationSeconds: durationSeconds.optional(),
      reason: reason(1000, 'a reason is required'),
      ticket: text(128).optional(),
      policyId: uuidParam.optional(),
      accountName: accountNameSchema.optional(),
      startAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
      emergency: z.boolean().optional(),
      totp: z.string().regex(/^\d{6}$/, { error: 'a 6-digit code' }).optional(),
      publicKey: z
        .string()
        .min(1)
        .max(16 * 1024)
        .optional()
        .describe('Your public key for targets that issue certificates: OpenSSH line, PEM public key or PKCS#10 CSR'),
    }),
    response: { 201: grantSchema },
  }),
  listGrants: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/grants',
    auth: 'session',
    tags: ['grants'],
    params: tenantParamsSchema,
    query: pageQuerySchema.extend({
      state: z.enum(grantStates).optional(),
      mine: z.enum(['true', 'false']).optional(),
      targetId: uuidParam.optional(),
      /** Grants past their end and not yet verified revoked: what timebox_overdue_revocations counts. */
      overdue: z.enum(['true', 'false']).optional(),
    }),
    response: { 200: pageSchema(grantSchema) },
  }),
  getGrant: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/grants/:grantId',
    auth: 'session',
    tags: ['grants'],
    params: grantParams,
    response: { 200: grantSchema },
  }),
  revokeGrant: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/grants/:grantId/revoke',
    auth: 'session',
    tags: ['grants'],
    summary: 'End a grant now (its owner, or an admin); access is taken away and verified',
    params: grantParams,
    body: z.strictObject({ reason: reason(1000, 'a reason is required') }),
    response: { 200: grantSchema },
  }),
  revealCredential: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/grants/:grantId/credential',
    auth: 'session',
    tags: ['grants'],
    summary: 'Show the generated password, or the issued certificate, private key or token, once, to the grant owner only',
    params: grantParams,
    body: z.strictObject({ totp: z.string().regex(/^\d{6}$/, { error: 'a 6-digit code' }).optional() }).nullish(),
    response: {
      200: z.object({
        username: z.string(),
        password: z.string().nullable(),
        expiresAt: z.string().nullable(),
        certificate: z.string().optional(),
        privateKey: z.string().optional().describe('Generated because no public key was given; not stored after this response'),
        token: z.string().optional(),
        caPublicKey: z.string().optional(),
        connect: connectInfoSchema.nullable().describe('Where and how to connect, and until when; null only for a grant without an end time'),
      }),
    },
  }),
};
