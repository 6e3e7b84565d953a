import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { AgentHealthSchema, EnrollRequestSchema, HeartbeatSchema, JournalUploadSchema, type AgentHealth } from '../../agent-wire/protocol.js';
import { LinuxAgentConfigSchema } from '../../connectors/linux-agent/config.js';
import { uuidParam, name, tenantParamsSchema, pageQuerySchema, pageSchema, queryInteger } from '../fields.js';

export const MAX_ENROLMENT_MINUTES = 7 * 24 * 60;
/** The longest a desired-state long poll waits before answering 204. */
export const AGENT_MAX_WAIT_SECONDS = 25;
/** Signature headers, documented for the OpenAPI description. */
const signedDescription =
  'Signed by the agent: x-timebox-agent, x-timebox-timestamp (ms), x-timebox-nonce and x-timebox-signature (Ed25519, base64url) over ' +
  '"timebox-agent-v1\\n<agent id>\\n<METHOD>\\n<path?query>\\n<timestamp>\\n<nonce>\\n<sha256 hex of the body>". 401 when stale (±60 s), replayed, revoked or badly signed.';

/**
 * An agent's health is served as the agent last reported it (`health: unknown`); this reads it as
 * today's agents report it, or null (none yet, or a shape this client does not know).
 */
export function readAgentHealth(health: unknown): AgentHealth | null {
  const parsed = AgentHealthSchema.safeParse(health);
  return parsed.success ? parsed.data : null;
}

export const agentSchema = z.object({
  id: z.string(),
  name: z.string(),
  hostname: z.string(),
  version: z.string(),
  enrolledAt: z.string(),
  lastSeenAt: z.string().nullable(),
  health: z.unknown(),
  revoked: z.boolean(),
  revokedAt: z.string().nullable(),
  desiredVersion: z.number(),
  appliedVersion: z.number(),
});
export const agentParams = tenantParamsSchema.extend({ agentId: uuidParam });
export const targetName = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { error: 'use letters, digits, spaces, . _ -' });

export const agentEndpoints = {
  createAgentEnrolmentToken: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/agents/enrolment-tokens',
    auth: 'session',
    tags: ['agents'],
    summary: 'A one-time enrolment token for a new agent (shown once, stored hashed, single use)',
    params: tenantParamsSchema,
    body: z.strictObject({
      name: name(64).optional(),
      expiresInMinutes: z
        .number({ error: 'must be a number of minutes' })
        .int({ error: 'must be a whole number of minutes' })
        .min(1, { error: 'must be at least 1 minute' })
        .max(MAX_ENROLMENT_MINUTES, { error: 'must be at most 7 days' })
        .default(60),
    }),
    response: { 201: z.object({ id: z.string(), name: z.string().nullable(), token: z.string(), expiresAt: z.string() }) },
  }),
  listAgents: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/agents',
    auth: 'session',
    tags: ['agents'],
    summary: 'The fleet: enrolled agents, when each was last seen and how it is doing',
    params: tenantParamsSchema,
    query: pageQuerySchema,
    response: { 200: pageSchema(agentSchema) },
  }),
  getAgent: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/agents/:agentId',
    auth: 'session',
    tags: ['agents'],
    params: agentParams,
    response: { 200: agentSchema },
  }),
  revokeAgent: endpoint({
    method: 'DELETE',
    path: '/api/v1/tenants/:tenant/agents/:agentId',
    auth: 'session',
    tags: ['agents'],
    summary: 'Revoke an agent: its requests are refused (401) at once and its desired state is no longer served',
    params: agentParams,
    response: { 200: agentSchema },
  }),
  addAgentTarget: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/agents/:agentId/target',
    auth: 'session',
    tags: ['agents'],
    summary: "The agent's host target (kind linux-agent), from the fleet view",
    params: agentParams,
    body: LinuxAgentConfigSchema.omit({ agentId: true }).extend({
      name: targetName,
      saveUnchecked: z.boolean().optional().describe('Save even though the connection test fails (the target is listed broken)'),
    }),
    response: {
      201: z.object({
        target: z.object({ id: z.string(), name: z.string(), kind: z.string(), createdAt: z.string(), updatedAt: z.string() }),
        check: z.object({ ok: z.boolean(), items: z.array(z.object({ name: z.string(), ok: z.boolean(), message: z.string() })) }),
      }),
    },
  }),
  enrollAgent: endpoint({
    method: 'POST',
    path: '/api/v1/agents/enroll',
    auth: 'public',
    tags: ['agents'],
    summary: 'Exchange a one-time enrolment token for an agent identity bound to the agent\'s Ed25519 public key',
    body: EnrollRequestSchema,
    response: { 201: z.object({ agentId: z.string(), name: z.string(), tenant: z.string() }) },
  }),
  agentDesiredState: endpoint({
    method: 'GET',
    path: '/api/v1/agents/desired-state',
    auth: 'agent',
    tags: ['agents'],
    summary: 'Long poll: the desired state as soon as its version passes `since` (else 204 after `wait` seconds)',
    description: `${signedDescription} \`applied\` is the version the agent last applied. The answer may carry server-chosen passwords: agents never log it.`,
    query: z.strictObject({
      since: queryInteger(-1, Number.MAX_SAFE_INTEGER),
      applied: queryInteger(-1, Number.MAX_SAFE_INTEGER, -1),
      wait: queryInteger(0, AGENT_MAX_WAIT_SECONDS, AGENT_MAX_WAIT_SECONDS),
    }),
    response: {
      200: z.object({ schemaVersion: z.number(), version: z.number(), issuedAt: z.string(), grants: z.array(z.record(z.string(), z.unknown())) }),
    },
  }),
  agentJournal: endpoint({
    method: 'POST',
    path: '/api/v1/agents/journal',
    auth: 'agent',
    tags: ['agents'],
    summary: 'Upload journal entries (idempotent by entry id)',
    description: signedDescription,
    body: JournalUploadSchema,
    response: { 200: z.object({ stored: z.number(), duplicates: z.number() }) },
  }),
  agentHeartbeat: endpoint({
    method: 'POST',
    path: '/api/v1/agents/heartbeat',
    auth: 'agent',
    tags: ['agents'],
    summary: "The agent's version and health (counts, applied version)",
    description: signedDescription,
    body: HeartbeatSchema,
    response: { 200: z.object({ serverTime: z.string(), desiredVersion: z.number() }) },
  }),
};
