/**
 * Helpers for the agent end-to-end tests: a Timebox server in this process that can be stopped and
 * started again on the same port and data (the agent keeps its URL), with a clock the test can
 * shift; an agent's signed client built from its state directory; a host target with a policy.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { startTimebox, type Timebox } from '../../src/server/start.js';
import type { AgentConfigInput } from '../../src/agent/config.js';
import { AgentClient } from '../../src/agent/http-client.js';
import { enrollAgent, loadIdentity } from '../../src/agent/identity.js';
import { freePort, type HostNamespace } from '../harness/host-namespace.js';
import { seedDataDir } from '../harness/pglite-template.js';
import { startAgentProcess, waitUntil, writeAgentConfig, type AgentProcess } from '../agent/support.js';
import { shiftableClock } from '../support/test-server.js';
import { signInFirstOwner, type ApiClient } from '../support/http.js';
import { createMember } from '../support/test-server.js';

export interface RestartableServer {
  tb: Timebox;
  url: string;
  clock: ReturnType<typeof shiftableClock>;
  admin: ApiClient;
  /** Stops the server (the data stays). */
  stop(): Promise<void>;
  /** Starts it again on the same port, data and master key. */
  restart(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

export async function startRestartableServer(env: Record<string, string> = {}, opts: { logger?: Logger } = {}): Promise<RestartableServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'timebox-agent-e2e-'));
  if (!env.DATABASE_URL) await seedDataDir(dataDir);
  const port = await freePort();
  const clock = shiftableClock();
  const fullEnv = {
    PORT: String(port),
    HOST: '127.0.0.1',
    TIMEBOX_DATA_DIR: dataDir,
    TIMEBOX_LOG_LEVEL: process.env.TIMEBOX_TEST_LOG ?? 'silent',
    TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
    TIMEBOX_RETRY_BASE_MS: '200',
    TIMEBOX_SWEEP_MS: '500',
    // Every test target, relay and receiver listens on this host.
    TIMEBOX_OUTBOUND_ALLOW: 'loopback',
    ...env,
  };
  let tb = await startTimebox({ clock, env: fullEnv, ...(opts.logger ? { logger: opts.logger } : {}) });
  if (!tb.bootstrap) throw new Error('expected a fresh store with a bootstrap owner');
  const admin = await signInFirstOwner(tb.url, tb.bootstrap);
  let running = true;
  const server: RestartableServer = {
    tb,
    url: tb.url,
    clock,
    admin,
    async stop() {
      if (!running) return;
      running = false;
      await tb.close();
    },
    async restart() {
      if (running) await server.stop();
      tb = await startTimebox({ clock, env: fullEnv, ...(opts.logger ? { logger: opts.logger } : {}) });
      server.tb = tb;
      running = true;
    },
    async destroy() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** The agent's own signed client, from the identity and key `timebox agent enroll` wrote. */
export async function agentClientFrom(stateDir: string): Promise<AgentClient> {
  const enrolled = await loadIdentity(stateDir);
  if (!enrolled) throw new Error(`no identity in ${stateDir}`);
  return new AgentClient({ server: enrolled.server, agentId: enrolled.identity.agentId, key: enrolled.key });
}

/** A host target for `agentId` and a policy letting requesters ask for it (at most `maxSeconds`). */
export async function hostTargetWithPolicy(
  admin: ApiClient,
  agentId: string,
  config: Record<string, unknown> = {},
  maxSeconds = 3600,
): Promise<{ targetId: string; check: { ok: boolean } }> {
  const added = await admin.post(`/api/v1/tenants/default/agents/${agentId}/target`, { name: 'web-01', ...config });
  if (added.status !== 201) throw new Error(`host target: ${added.status} ${JSON.stringify(added.body)}`);
  const targetId = added.body.target.id as string;
  const policy = await admin.post('/api/v1/tenants/default/policies', {
    name: 'web-01 access',
    targetId,
    requesterRoles: ['requester', 'owner'],
    maxDurationSeconds: maxSeconds,
    defaultDurationSeconds: Math.min(600, maxSeconds),
  });
  if (policy.status !== 201) throw new Error(`policy: ${policy.status} ${JSON.stringify(policy.body)}`);
  return { targetId, check: added.body.check };
}

/** Adds an operator to the default tenant and signs them in. */
export async function addMember(server: RestartableServer, email: string, roles: string[]): Promise<ApiClient> {
  return (await createMember(server.tb, 'default', email, roles)).api;
}

/** A policy letting requesters and owners ask for `targetId` for at most `maxSeconds`. */
export async function policyFor(admin: ApiClient, targetId: string, name: string, maxSeconds = 3600): Promise<void> {
  const policy = await admin.post('/api/v1/tenants/default/policies', {
    name,
    targetId,
    requesterRoles: ['requester', 'owner'],
    maxDurationSeconds: maxSeconds,
    defaultDurationSeconds: Math.min(600, maxSeconds),
  });
  if (policy.status !== 201) throw new Error(`policy: ${policy.status} ${JSON.stringify(policy.body)}`);
}

/**
 * Enrols an agent for the namespace host (token from the API, `enrollAgent` writing the state
 * directory) and starts it inside the namespace with quick reconnects (and `config` besides);
 * resolves once it reported in.
 * `start: false` enrols only (`run()` starts it later).
 */
export async function enrolledAgent(
  server: RestartableServer,
  ns: HostNamespace,
  stateDir: string,
  hostname = 'web-01.example.test',
  config: AgentConfigInput = {},
): Promise<{ agentId: string; run(): Promise<AgentProcess> }> {
  const tok = await server.admin.post('/api/v1/tenants/default/agents/enrolment-tokens', { name: hostname.split('.')[0], expiresInMinutes: 5 });
  if (tok.status !== 201) throw new Error(`enrolment token: ${tok.status} ${JSON.stringify(tok.body)}`);
  const id = await enrollAgent({ server: server.url, token: tok.body.token as string, stateDir, hostname });
  const configFile = await writeAgentConfig(stateDir, { backoffMaxMs: 2_000, heartbeatMs: 2_000, ...config });
  return {
    agentId: id.agentId,
    async run() {
      const agent = startAgentProcess(ns, { stateDir, configFile });
      await waitUntil('the agent reported in', 30_000, async () => {
        if (agent.child.exitCode !== null) throw new Error(`the agent exited: ${agent.output()}`);
        const a = (await server.admin.get(`/api/v1/tenants/default/agents/${id.agentId}`)).body;
        return a.appliedVersion >= 0 && a.health !== null;
      });
      return agent;
    },
  };
}
