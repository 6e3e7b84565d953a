/**
 * What the approval workflow tells people about, described once with zod: the schema checks
 * every event handed to the notifier, and its inferred type is the API of `enqueue`.
 * Events carry summaries only; a credential has no field to travel in.
 */
import { z } from 'zod';

export const grantSummarySchema = z.object({
  id: z.string(),
  requesterEmail: z.string(),
  targetName: z.string(),
  entitlements: z.array(z.string()),
  durationSeconds: z.number(),
  /** ISO-8601; null while the grant has not started. */
  expiresAt: z.string().nullable(),
  reason: z.string(),
});
export type GrantSummary = z.infer<typeof grantSummarySchema>;

/** Set when the event is about an extension of a running grant rather than a new request. */
const extension = { extensionSeconds: z.number().int().positive().optional() };

export const notificationEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('approval_requested'),
    grant: grantSummarySchema,
    level: z.number().int().min(1),
    quorum: z.number().int().min(1),
    approverIds: z.array(z.string()),
    ...extension,
  }),
  z.object({
    type: z.literal('request_decided'),
    grant: grantSummarySchema,
    decision: z.enum(['approved', 'denied', 'shortened']),
    /** Operator id of the approver. */
    by: z.string(),
    level: z.number().int().min(1),
    reason: z.string().nullish(),
    /** False while further approvals are still needed. */
    final: z.boolean().optional(),
    ...extension,
  }),
  z.object({
    type: z.literal('approver_acted'),
    grant: grantSummarySchema,
    by: z.string(),
    decision: z.enum(['approve', 'deny', 'approved', 'denied', 'shortened']),
    level: z.number().int().min(1),
  }),
  z.object({ type: z.literal('grant_activated'), grant: grantSummarySchema }),
  z.object({ type: z.literal('expiry_warning'), grant: grantSummarySchema, minutesLeft: z.number().min(0) }),
  z.object({
    type: z.literal('break_glass'),
    grant: grantSummarySchema,
    /** Default: the grant's requester and reason. */
    requester: z.string().optional(),
    reason: z.string().optional(),
  }),
  z.object({ type: z.literal('revoke_failed'), grant: grantSummarySchema, error: z.string() }),
  z.object({ type: z.literal('review_owed'), grant: grantSummarySchema }),
  /** The reconciler found a JIT account changed behind Timebox's back and could not put it right. */
  z.object({ type: z.literal('drift_unrepaired'), grant: grantSummarySchema, account: z.string(), error: z.string(), findings: z.array(z.string()) }),
]);

export type NotificationEvent = z.infer<typeof notificationEventSchema>;
export type NotificationEventType = NotificationEvent['type'];

export const notificationEventTypes = [
  'approval_requested',
  'request_decided',
  'approver_acted',
  'grant_activated',
  'expiry_warning',
  'break_glass',
  'revoke_failed',
  'review_owed',
  'drift_unrepaired',
] as const satisfies readonly NotificationEventType[];
