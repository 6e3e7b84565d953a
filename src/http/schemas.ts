/** Zod schemas shared by route modules: the API's vocabulary, also the OpenAPI document's. */
import { z } from 'zod';
import { grantStates } from '../core/lifecycle.js';
import type { GrantView } from '../app/grants.js';

/** The text building blocks every request schema uses (the rule: src/core/text.ts). */
export { multiline, name, note, reason, text } from '../core/text-schema.js';

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

/** How to connect with a revealed credential (built by src/core/connect-info.ts). */
export const connectInfoSchema = z.object({
  host: z.string().nullable(),
  port: z.number().nullable(),
  database: z.string().nullable(),
  domain: z.string().nullable(),
  command: z.string().nullable().describe('A command to type (psql, mariadb, ssh, runas); never run by the server'),
  endsAt: z.string().describe('When access ends (ISO 8601, UTC)'),
});
