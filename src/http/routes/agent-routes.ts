/**
 * Linux endpoint agents. For administrators (signed-in operators): enrolment tokens, the fleet
 * view, revocation and a host target from the fleet view. For agents: enrolment with a one-time
 * token, then only signed requests (docs/agent.md): the long-polled desired state, journal
 * uploads and heartbeats. Agents only ever connect out to these.
 */
import { routeOf } from '../route-of.js';
import { strictJsonBodies } from '../json-body.js';
import { endpoints } from '../../api/endpoints.js';
import { AGENT_MAX_WAIT_SECONDS, agentSchema } from '../../api/endpoints/agents.js';
import type { FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.js';
import { authenticateAgent, type AuthenticatedAgent } from '../../app/agent-auth.js';
import { ingestJournal, noteApplied, recordHeartbeat, waitForDesiredState } from '../../app/agent-channel.js';
import { answersDelivered } from '../../app/agent-wakes.js';
import { createEnrolmentToken, enrollAgent, getAgent, listAgents, revokeAgent, toAgentView, type AgentView } from '../../app/agents.js';
import { addTarget } from '../../app/targets.js';
import { AppError } from '../../core/errors.js';
import { LINUX_AGENT_KIND } from '../../connectors/linux-agent/config.js';
import { agentsDb } from '../../store/schema-agents.js';
import { principalOf } from '../auth-hook.js';
import { decodeCursor, encodeCursor, stringAndIdKeys } from '../pagination.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';

const operatorActor = (request: FastifyRequest) => ({ type: 'operator' as const, id: principalOf(request).operatorId });
const iso = (d: Date | null) => (d ? d.toISOString() : null);

const agentJson = (a: AgentView): z.infer<typeof agentSchema> => ({
  ...a,
  enrolledAt: a.enrolledAt.toISOString(),
  lastSeenAt: iso(a.lastSeenAt),
  revokedAt: iso(a.revokedAt),
});

/** The agent a signed request authenticated as (set by the channel's preValidation hook). */
const agentOfRequest = new WeakMap<FastifyRequest, AuthenticatedAgent>();
/** Long polls one agent may hold at once on this server; a newer one answers the oldest. */
export const MAX_POLLS_PER_AGENT = 4;
const rawBodies = new WeakMap<FastifyRequest, string>();
function agentOf(request: FastifyRequest): AuthenticatedAgent {
  const a = agentOfRequest.get(request);
  if (!a) throw new AppError('unauthorized', 'agent authentication failed');
  return a;
}

export interface AgentRouteOptions {
  /** Longest long-poll hold (default and at most AGENT_MAX_WAIT_SECONDS); a longer `wait` is cut to it. */
  maxWaitSeconds?: number;
}

export const agentRoutes =
  (deps: AppDeps, opts: AgentRouteOptions = {}): RouteModule =>
  async (app) => {
    const db = agentsDb(deps.db);
    const maxWait = Math.min(opts.maxWaitSeconds ?? AGENT_MAX_WAIT_SECONDS, AGENT_MAX_WAIT_SECONDS);

    /* ---------- administrators ---------- */

    app.route({
      ...routeOf(endpoints.createAgentEnrolmentToken),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const created = await createEnrolmentToken(deps, operatorActor(request), t.tenantId, request.body);
        return reply.status(201).send({ ...created, expiresAt: created.expiresAt.toISOString() });
      },
    });

    app.route({
      ...routeOf(endpoints.listAgents),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        const after = decodeCursor(request.query.cursor, stringAndIdKeys);
        const page = await listAgents(deps, t.tenantId, { limit: request.query.limit, after });
        return { items: page.items.map(agentJson), nextCursor: page.next ? encodeCursor(page.next) : null };
      },
    });

    app.route({
      ...routeOf(endpoints.getAgent),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        return agentJson(toAgentView(await getAgent(deps, t.tenantId, request.params.agentId)));
      },
    });

    app.route({
      ...routeOf(endpoints.revokeAgent),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        return agentJson(await revokeAgent(deps, operatorActor(request), t.tenantId, request.params.agentId));
      },
    });

    app.route({
      ...routeOf(endpoints.addAgentTarget),
      handler: async (request, reply) => {
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
    });

    /* ---------- agents ---------- */

    app.route({
      ...routeOf(endpoints.enrollAgent, {
        config: {
          rateLimit: {
            max: 20,
            timeWindow: 60_000,
            errorResponseBuilder: (_req, ctx) => new AppError('rate_limited', `too many enrolment attempts; try again in ${ctx.after}`),
          },
        },
      }),
      handler: async (request, reply) => {
        const { agent, tenantSlug } = await enrollAgent(deps, request.body);
        request.log.info({ agentId: agent.id, hostname: agent.hostname }, 'agent enrolled');
        return reply.status(201).send({ agentId: agent.id, name: agent.name, tenant: tenantSlug });
      },
    });

    // Signed requests: their own scope, which keeps each raw body for the signature check. JSON
    // is the only body accepted (415 otherwise), so no body is ever read that was not signed.
    await app.register(async (channel) => {
      channel.removeAllContentTypeParsers();
      strictJsonBodies(channel, (request, text) => rawBodies.set(request, text));
      channel.addHook('preValidation', async (request) => {
        // A fleet-wide change is answered to every agent before their next polls are taken (the
        // channel's one GET is the desired-state poll).
        if (request.method === 'GET') await answersDelivered();
        const agent = await authenticateAgent(db, {
          method: request.method,
          url: request.raw.url ?? request.url,
          headers: request.headers,
          rawBody: rawBodies.get(request) ?? '',
          seenAt: deps.clock.now(),
        });
        agentOfRequest.set(request, agent);
      });

      // Held long polls would keep server.close() waiting: answer them (204) first.
      const open = new Set<AbortController>();
      const pollsByAgent = new Map<string, AbortController[]>();
      let closing = false;
      channel.addHook('preClose', async () => {
        closing = true;
        for (const c of open) c.abort();
      });

      const typed = channel.withTypeProvider<ZodTypeProvider>();
      typed.route({
        ...routeOf(endpoints.agentDesiredState),
        handler: async (request, reply) => {
          const agent = agentOf(request);
          // Shutting down: the agent asks again (another replica, or this one restarted).
          if (closing) return reply.status(204 as 200).send(undefined as never);
          await noteApplied(db, agent, request.query.applied, deps.clock.now());
          const abort = new AbortController();
          open.add(abort);
          // A poll that reached its handler after the server began closing, or after its agent
          // left (the close events already fired): answered at once, never left reading a store
          // that is about to close.
          if (closing || request.raw.destroyed || reply.raw.destroyed) abort.abort();
          // An agent polls one at a time. A few may overlap (a connection that died unseen is still
          // held here when the agent asks again); beyond that the oldest is answered (204) to make
          // room, so one host cannot hold any number of sockets and buffers of this server.
          const mine = pollsByAgent.get(agent.id) ?? [];
          pollsByAgent.set(agent.id, mine);
          mine.push(abort);
          if (mine.length > MAX_POLLS_PER_AGENT) mine.shift()!.abort();
          // The client went away: stop waiting (the response's own close event).
          const onClose = () => abort.abort();
          reply.raw.once('close', onClose);
          try {
            const state = await waitForDesiredState({ db, secrets: deps.secrets, clock: deps.clock }, agent.id, {
              since: request.query.since,
              waitMs: Math.min(request.query.wait, maxWait) * 1000,
              signal: abort.signal,
              recheckMs: deps.agentPush?.recheckMs,
              known: { version: Number(agent.desired_version), wakeMark: agent.wakeMark },
            }).catch((err: unknown) => {
              // The agent left, or the server is shutting down: a read that was in flight may meet
              // a store already closed. Nobody waits for this answer; an error here is not one.
              if (abort.signal.aborted) return null;
              throw err;
            });
            // Nothing new within the wait: 204, and the agent asks again.
            if (!state) return reply.status(204 as 200).send(undefined as never);
            return reply.status(200).send(state as never);
          } finally {
            open.delete(abort);
            const i = mine.indexOf(abort);
            if (i !== -1) mine.splice(i, 1);
            if (mine.length === 0 && pollsByAgent.get(agent.id) === mine) pollsByAgent.delete(agent.id);
            reply.raw.off('close', onClose);
          }
        },
      });

      typed.route({
        ...routeOf(endpoints.agentJournal),
        handler: async (request) => ingestJournal(deps, agentOf(request), request.body.entries),
      });

      typed.route({
        ...routeOf(endpoints.agentHeartbeat),
        handler: async (request) => {
          const agent = agentOf(request);
          await recordHeartbeat(deps, agent, request.body);
          // The version this request's authentication read: a heartbeat changes no version.
          return { serverTime: deps.clock.now().toISOString(), desiredVersion: Number(agent.desired_version) };
        },
      });
    });
  };
