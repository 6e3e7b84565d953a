/** The API's shared vocabulary: field schemas used by many endpoints (requests and responses). */
import { z } from 'zod';
import { grantStates } from '../core/lifecycle.js';

/** The text building blocks every request schema uses (the rule: src/core/text.ts). */
export { multiline, name, note, reason, text } from '../core/text-schema.js';

/** The longest password accepted as input anywhere (hashing cost stays bounded). */
export const MAX_PASSWORD_INPUT = 1024;

export const uuidParam = z.guid({ error: 'must be an id (UUID)' });
export const maxGrantSeconds = 31 * 24 * 3600;
export const durationSeconds = z
  .number({ error: 'must be a number of seconds' })
  .int({ error: 'must be a whole number of seconds' })
  .min(10, { error: 'must be at least 10 seconds' })
  .max(maxGrantSeconds, { error: 'must be at most 31 days' });
export const totpCode = z.string().regex(/^\d{6}$/, { error: 'a 6-digit code' });
/** Names of things people create (targets, groups, webhooks). */
export const objectName = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { error: 'use letters, digits, spaces, . _ -' });

export const tenantSlugSchema = z
  .string()
  .min(2)
  .max(40)
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, { error: 'use lowercase letters, digits and inner hyphens (2 to 40 characters)' });
export const tenantParamsSchema = z.object({ tenant: tenantSlugSchema });

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;
/**
 * A whole number from the query string, written in decimal digits and given once: not `0x10`,
 * `1e2` or ` 5` (which a bare Number() would read as 16, 100 and 5), nor `?n=1&n=2`.
 */
export function queryInteger(min: number, max: number): z.ZodNumber;
export function queryInteger(min: number, max: number, byDefault: number): z.ZodDefault<z.ZodNumber>;
export function queryInteger(min: number, max: number, byDefault?: number): z.ZodNumber | z.ZodDefault<z.ZodNumber> {
  const number = z.number().min(min).max(max, { abort: true }).int();
  // Other text stays text ("must be a number, not text"), a repeated key a list ("… not a list").
  const fromText = (v: unknown) => (typeof v === 'string' && /^-?[0-9]+(\.[0-9]+)?$/.test(v) ? Number(v) : v);
  // Typed as the number it becomes: callers (the API client) pass numbers, the URL makes them text.
  if (byDefault === undefined) return z.preprocess(fromText, number) as unknown as typeof number;
  const withDefault = number.default(byDefault);
  return z.preprocess(fromText, withDefault) as unknown as typeof withDefault;
}
/** A page size from the query string: over `max` is one problem with one message (the bound first). */
export const pageLimit = (max: number, byDefault: number) => queryInteger(1, max, byDefault);
/** Strict: a misspelt filter (`?stat=active`) is a 400, not a silently unfiltered list. */
export const pageQuerySchema = z.strictObject({
  limit: pageLimit(MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
  cursor: z.string().max(1024).optional(),
});
/** Response schema of a page of `item`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

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
  gatewayOnly: z.boolean().describe('The password is never shown: connect through the SSH gateway (timebox ssh <target>)'),
  ticket: z.string().nullable(),
  emergency: z.boolean(),
  policyId: z.string().nullable(),
  approvalLevel: z.number(),
  createdAt: z.string(),
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
