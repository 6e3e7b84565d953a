/**
 * Linux endpoint agents. For administrators (signed-in operators): enrolment tokens, the fleet
 * view, revocation and a host target from the fleet view. For agents: enrolment with a one-time
 * token, then only signed requests (docs/agent.md): the long-polled desired state, journal
 * uploads and heartbeats. Agents only ever connect out to these.
 */
import type { FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.js';
import {
  authenticateAgent,
  ingestJournal,
  noteApplied,
  recordHeartbeat,
  waitForDesiredState,
} from '../../app/agent-channel.js';
import { createEnrolmentToken, enrollAgent, getAgent, listAgents, MAX_ENROLMENT_MINUTES, revokeAgent, toAgentView, type AgentView } from '../../app/agents.js';
import { addTarget } from '../../app/targets.js';
import { AppError } from '../../core/errors.js';
import { EnrollRequestSchema, HeartbeatSchema, JournalUploadSchema } from '../../agent-wire/protocol.js';
import { LINUX_AGENT_KIND, LinuxAgentConfigSchema } from '../../connectors/linux-agent/config.js';
import { agentsDb, type AgentRow } from '../../store/schema-agents.js';
import { principalOf } from '../auth-hook.js';
import { decodeCursor, encodeCursor, pageQuerySchema, pageSchema, stringAndIdKeys } from '../pagination.js';
import { name, uuidParam } from '../schemas.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';

const operatorActor = (request: FastifyRequest) => ({ type: 'operator' as const, id: principalOf(request).operatorId });
const iso = (d: Date | null) => (d ? d.toISOString() : null);

const agentSchema = z.object({
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
const agentJson = (a: AgentView): z.infer<typeof agentSchema> => ({
  ...a,
  enrolledAt: a.enrolledAt.toISOString(),
  lastSeenAt: iso(a.lastSeenAt),
  revokedAt: iso(a.revokedAt),
});
const agentParams = tenantParamsSchema.extend({ agentId: uuidParam });
const targetName = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { error: 'use letters, digits, spaces, . _ -' });

/** Signature headers, documented for the OpenAPI description. */
const signedDescription =
  'Signed by the agent: x-timebox-agent, x-timebox-timestamp (ms), x-timebox-nonce and x-timebox-signature (Ed25519, base64url) over ' +
  '"timebox-agent-v1\\n<agent id>\\n<METHOD>\\n<path?query>\\n<timestamp>\\n<nonce>\\n<sha256 hex of the body>". 401 when stale (±60 s), replayed, revoked or badly signed.';

/** The agent a signed request authenticated as (set by the channel's preValidation hook). */
const agentOfRequest = new WeakMap<FastifyRequest, AgentRow>();
const rawBodies = new WeakMap<FastifyRequest, string>();
function agentOf(request: FastifyRequest): AgentRow {
  const a = agentOfRequest.get(request);
  if (!a) throw new AppError('unauthorized', 'agent authentication failed');
  return a;
}

export interface AgentRouteOptions {
  /** Longest long-poll hold (default 25 s). */
  maxWaitSeconds?: number;
}

export const agentRoutes =
  (deps: AppDeps, opts: AgentRouteOptions = {}): RouteModule =>
  async (app) => {
    const db = agentsDb(deps.db);
    const maxWait = opts.maxWaitSeconds ?? 25;

    /* ---------- administrators ---------- */

    app.post(
      '/api/v1/tenants/:tenant/agents/enrolment-tokens',
      {
        schema: {
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
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const created = await createEnrolmentToken(deps, operatorActor(request), t.tenantId, request.body);
        return reply.status(201).send({ ...created, expiresAt: created.expiresAt.toISOString() });
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/agents',
      {
        schema: {
          tags: ['agents'],
          summary: 'The fleet: enrolled agents, when each was last seen and how it is doing',
          params: tenantParamsSchema,
          querystring: pageQuerySchema,
          response: { 200: pageSchema(agentSchema) },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        const after = decodeCursor(request.query.cursor, stringAndIdKeys);
        const page = await listAgents(deps, t.tenantId, { limit: request.query.limit, after });
        return { items: page.items.map(agentJson), nextCursor: page.next ? encodeCursor(page.next) : null };
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/agents/:agentId',
      { schema: { tags: ['agents'], params: agentParams, response: { 200: agentSchema } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        return agentJson(toAgentView(await getAgent(deps, t.tenantId, request.params.agentId)));
      },
    );

    app.delete(
      '/api/v1/tenants/:tenant/agents/:agentId',
      {
        schema: {
          tags: ['agents'],
          summary: 'Revoke an agent: its requests are refused (401) at once and its desired state is no longer served',
          params: agentParams,
          response: { 200: agentSchema },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        return agentJson(await revokeAgent(deps, operatorActor(request), t.tenantId, request.params.agentId));
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/agents/:agentId/target',
      {
        schema: {
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
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const { name, saveUnchecked, ...config } = request.body;
        const r = await addTarget(deps, operatorActor(request), t.tenantId, {
          name,
          kind: LINUX_AGENT_KIND,
          config: { ...config, agentId: request.params.agentId },
          saveUnchecked,
        });
        return reply
          .status(201)
          .send({ target: { ...r.target, createdAt: r.target.createdAt.toISOString(), updatedAt: r.target.updatedAt.toISOString() }, check: r.check });
      },
    );

    /* ---------- agents ---------- */

    app.post(
      '/api/v1/agents/enroll',
      {
        config: {
          public: true,
          rateLimit: {
            max: 20,
            timeWindow: 60_000,
            errorResponseBuilder: (_req, ctx) => new AppError('rate_limited', `too many enrolment attempts; try again in ${ctx.after}`),
          },
        },
        schema: {
          tags: ['agents'],
          summary: 'Exchange a one-time enrolment token for an agent identity bound to the agent\'s Ed25519 public key',
          security: [],
          body: EnrollRequestSchema,
          response: { 201: z.object({ agentId: z.string(), name: z.string(), tenant: z.string() }) },
        },
      },
      async (request, reply) => {
        const { agent, tenantSlug } = await enrollAgent(deps, request.body);
        request.log.info({ agentId: agent.id, hostname: agent.hostname }, 'agent enrolled');
        return reply.status(201).send({ agentId: agent.id, name: agent.name, tenant: tenantSlug });
      },
    );

    // Signed requests: their own scope, which keeps each raw body for the signature check. JSON
    // is the only body accepted (415 otherwise), so no body is ever read that was not signed.
    await app.register(async (channel) => {
      const parseJson = channel.getDefaultJsonParser('error', 'error');
      channel.removeAllContentTypeParsers();
      channel.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
        rawBodies.set(request, body as string);
        parseJson(request, body as string, done);
      });
      channel.addHook('preValidation', async (request) => {
        const agent = await authenticateAgent(db, {
          method: request.method,
          url: request.raw.url ?? request.url,
          headers: request.headers,
          rawBody: rawBodies.get(request) ?? '',
        });
        agentOfRequest.set(request, agent);
      });

      // Held long polls would keep server.close() waiting: answer them (204) first.
      const open = new Set<AbortController>();
      channel.addHook('preClose', async () => {
        for (const c of open) c.abort();
      });

      const typed = channel.withTypeProvider<ZodTypeProvider>();
      typed.get(
        '/api/v1/agents/desired-state',
        {
          config: { public: true },
          schema: {
            tags: ['agents'],
            summary: 'Long poll: the desired state as soon as its version passes `since` (else 204 after `wait` seconds)',
            description: `${signedDescription} \`applied\` is the version the agent last applied. The answer may carry server-chosen passwords: agents never log it.`,
            security: [],
            querystring: z.strictObject({
              since: z.coerce.number().int().min(-1),
              applied: z.coerce.number().int().min(-1).default(-1),
              wait: z.coerce.number().int().min(0).max(maxWait).default(maxWait),
            }),
            response: {
              200: z.object({ schemaVersion: z.number(), version: z.number(), issuedAt: z.string(), grants: z.array(z.record(z.string(), z.unknown())) }),
            },
          },
        },
        async (request, reply) => {
          const agent = agentOf(request);
          await noteApplied(db, agent.id, request.query.applied, deps.clock.now());
          const abort = new AbortController();
          open.add(abort);
          // The client went away: stop waiting (the response's own close event).
          const onClose = () => abort.abort();
          reply.raw.once('close', onClose);
          try {
            const state = await waitForDesiredState({ db, secrets: deps.secrets, clock: deps.clock }, agent.id, {
              since: request.query.since,
              waitMs: request.query.wait * 1000,
              signal: abort.signal,
              recheckMs: deps.agentPush?.recheckMs,
            });
            // Nothing new within the wait: 204, and the agent asks again.
            if (!state) return reply.status(204 as 200).send(undefined as never);
            return reply.status(200).send(state as never);
          } finally {
            open.delete(abort);
            reply.raw.off('close', onClose);
          }
        },
      );

      typed.post(
        '/api/v1/agents/journal',
        {
          config: { public: true },
          schema: {
            tags: ['agents'],
            summary: 'Upload journal entries (idempotent by entry id)',
            description: signedDescription,
            security: [],
            body: JournalUploadSchema,
            response: { 200: z.object({ stored: z.number(), duplicates: z.number() }) },
          },
        },
        async (request) => ingestJournal(deps, agentOf(request), request.body.entries),
      );

      typed.post(
        '/api/v1/agents/heartbeat',
        {
          config: { public: true },
          schema: {
            tags: ['agents'],
            summary: "The agent's version and health (counts, applied version)",
            description: signedDescription,
            security: [],
            body: HeartbeatSchema,
            response: { 200: z.object({ serverTime: z.string(), desiredVersion: z.number() }) },
          },
        },
        async (request) => {
          const agent = agentOf(request);
          await recordHeartbeat(deps, agent, request.body);
          const fresh = await db.selectFrom('agents').select('desired_version').where('id', '=', agent.id).executeTakeFirstOrThrow();
          return { serverTime: deps.clock.now().toISOString(), desiredVersion: Number(fresh.desired_version) };
        },
      );
    });
  };
