import { z } from 'zod';
import { DECISION_REFUSAL_CODES } from '../../core/approval.js';
import { endpoint } from '../endpoint.js';
import { uuidParam, durationSeconds, name, note, reason, text, grantSchema, tenantParamsSchema, pageQuerySchema, pageSchema } from '../fields.js';

export const grantParams = tenantParamsSchema.extend({ grantId: uuidParam });
export const inboxItem = z.object({
  kind: z.enum(['request', 'extension']),
  extensionId: z.string().nullable(),
  extensionSeconds: z.number().nullable(),
  extensionReason: z.string().nullable(),
  grant: grantSchema,
  level: z.number(),
  levels: z.number(),
  quorum: z.number(),
  approvals: z.number(),
  acted: z.array(z.object({ approverId: z.string(), approverEmail: z.string(), decision: z.string(), level: z.number(), at: z.string() })),
  cannotDecide: z.string().nullable(),
  /** Why, as a code: a missing right (own request, another level, not an approver) or a conflict (decided, settled). */
  cannotDecideCode: z.enum(DECISION_REFUSAL_CODES).nullable(),
});
export const totp = z.string().regex(/^\d{6}$/, { error: 'a 6-digit code' }).optional();

const extensionParams = tenantParamsSchema.extend({ extensionId: uuidParam });
const extensionDecided = z.object({ state: z.string(), grant: grantSchema.nullable() });

export const approvalEndpoints = {
  listApprovals: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/approvals',
    auth: 'session',
    tags: ['approvals'],
    summary: 'Pending requests and extensions you may decide on, oldest first (a page may hold fewer than limit; follow nextCursor)',
    params: tenantParamsSchema,
    query: pageQuerySchema,
    response: { 200: pageSchema(inboxItem) },
  }),
  approveRequest: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/grants/:grantId/approve',
    auth: 'session',
    tags: ['approvals'],
    summary: 'Approve at your level; you may shorten the duration or move the start, never lengthen',
    params: grantParams,
    body: z.strictObject({ reason: note(1000).optional(), durationSeconds: durationSeconds.optional(), startAt: z.iso.datetime({ offset: true }).optional(), totp }),
    response: { 200: grantSchema },
  }),
  denyRequest: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/grants/:grantId/deny',
    auth: 'session',
    tags: ['approvals'],
    params: grantParams,
    body: z.strictObject({ reason: reason(1000, 'say why'), totp }),
    response: { 200: grantSchema },
  }),
  extendGrant: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/grants/:grantId/extend',
    auth: 'session',
    tags: ['grants'],
    summary: 'Ask for more time on an active grant (within the policy cap)',
    params: grantParams,
    body: z.strictObject({ seconds: durationSeconds, reason: reason(1000, 'a reason is required') }),
    response: { 200: z.object({ applied: z.boolean(), extensionId: z.string(), grant: grantSchema }) },
  }),
  approveExtension: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/extensions/:extensionId/approve',
    auth: 'session',
    tags: ['approvals'],
    params: extensionParams,
    body: z.strictObject({ reason: note(1000).optional(), totp }),
    response: { 200: extensionDecided },
  }),
  denyExtension: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/extensions/:extensionId/deny',
    auth: 'session',
    tags: ['approvals'],
    params: extensionParams,
    body: z.strictObject({ reason: note(1000).optional(), totp }),
    response: { 200: extensionDecided },
  }),
  listReviews: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/reviews',
    auth: 'session',
    tags: ['approvals'],
    summary: 'Break-glass grants and their after-the-fact reviews, oldest owed first, in pages',
    params: tenantParamsSchema,
    query: pageQuerySchema.extend({ open: z.enum(['true', 'false']).default('true') }),
    response: {
      200: pageSchema(
        z.object({ grantId: z.string(), requesterEmail: z.string(), reason: z.string(), owedSince: z.string(), reviewerId: z.string().nullable(), reviewedAt: z.string().nullable(), verdict: z.string().nullable(), notes: z.string().nullable() }),
      ),
    },
  }),
  submitReview: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/grants/:grantId/review',
    auth: 'session',
    tags: ['approvals'],
    params: grantParams,
    body: z.strictObject({ verdict: z.enum(['justified', 'not_justified']), notes: reason(2000, 'write what you found') }),
  }),
  simulatePolicy: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/policies/simulate',
    auth: 'session',
    tags: ['policies'],
    summary: 'What would happen if this person asked for this, at this time? Writes nothing.',
    params: tenantParamsSchema,
    body: z.strictObject({
      operatorEmail: name(254).min(3, { error: 'must be an email address' }),
      targetId: uuidParam,
      entitlements: z.array(name(256)).min(1).max(50),
      durationSeconds: durationSeconds.optional(),
      at: z.iso.datetime({ offset: true }).optional(),
      ticket: text(128).optional(),
      emergency: z.boolean().optional(),
    }),
    response: {
      200: z.object({
        policy: z.string().nullable(),
        route: z.string(),
        refusals: z.array(z.string()),
        autoApprovedBy: z.string().nullable(),
        approvalLevels: z.array(z.object({ level: z.number(), quorum: z.number(), approvers: z.array(z.string()) })),
      }),
    },
  }),
};
