/** Zod schemas shared by route modules: the API's vocabulary, also the OpenAPI document's. */
import { z } from 'zod';
import { grantStates } from '../core/lifecycle.js';
import type { GrantView } from '../app/grants.js';

/** Free text a person types: bounded, no control characters (NUL would not even store). */
export const text = (max: number) =>
  z
    .string()
    .max(max, { error: `must be at most ${max} characters` })
    .refine((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s), { error: 'must not contain control characters' });

export const uuidParam = z.uuid({ error: 'must be an id (UUID)' });
export const maxGrantSeconds = 31 * 24 * 3600;
export const durationSeconds = z
  .number({ error: 'must be a number of seconds' })
  .int({ error: 'must be a whole number of seconds' })
  .min(10, { error: 'must be at least 10 seconds' })
  .max(maxGrantSeconds, { error: 'must be at most 31 days' });

export const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const grantSchema = z.object({
  id: z.string(),
  state: z.enum(grantStates),
  targetId: z.string(),
  targetName: z.string(),
  operatorId: z.string(),
  operatorEmail: z.string(),
  username: z.string(),
  entitlements: z.array(z.string()),
  reason: z.string(),
  durationSeconds: z.number(),
  requestedStartAt: z.string().nullable(),
  startsAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  endReason: z.string().nullable(),
  lastError: z.string().nullable(),
  revokeAttempts: z.number(),
  credentialAvailable: z.boolean(),
  ticket: z.string().nullable(),
  emergency: z.boolean(),
  policyId: z.string().nullable(),
  approvalLevel: z.number(),
  createdAt: z.string(),
});

export const grantJson = (g: GrantView): z.infer<typeof grantSchema> => ({
  ...g,
  requestedStartAt: iso(g.requestedStartAt),
  startsAt: iso(g.startsAt),
  expiresAt: iso(g.expiresAt),
  revokedAt: iso(g.revokedAt),
  createdAt: g.createdAt.toISOString(),
});
