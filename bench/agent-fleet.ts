/**
 * An agent fleet against one server on PostgreSQL: N simulated agents, each with its own Ed25519
 * key and signed requests exactly as real agents make them, holding the desired-state long poll.
 * Measured: the process's CPU while the fleet is idle (fraction of one core), the database
 * transactions per second meanwhile (what an idle fleet costs PostgreSQL), and, after one
 * transaction changes every agent's desired state, how long until each agent holds its new state
 * (push latency, p50/p99/max). The agents are inserted with SQL (enrolment is not what is
 * measured); the load generator runs in the server's process, so the CPU and RSS figures include
 * it and overstate the server's own.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { sql } from 'kysely';
import pg from 'pg';
import { AgentClient } from '../src/agent/http-client.js';
import { AGENT_CHANGES_CHANNEL } from '../src/app/agent-channel.js';
import { startTimebox } from '../src/server/start.js';
import { agentsDb } from '../src/store/schema-agents.js';
import { benchLogger, say, serverEnv, setupTenant } from './setup.js';
import { summarize } from './stats.js';

export interface FleetResult {
  agents: number;
  idleSeconds: number;
  /** CPU seconds per second of the whole process while every agent held a poll. */
  idleCores: number;
  /** Database transactions per second meanwhile (all of them, the server's background work too). */
  idleTransactionsPerSecond: number;
  pushMs: { p50: number; p99: number; max: number };
  /** Agents that did not hold their new state within the wait. */
  missed: number;
  rssMb: number;
}

interface SimAgent {
  id: string;
  publicKeyPem: string;
  client: AgentClient;
  version: number;
  /** When the agent received a state with a version above `waitingAbove`. */
  receivedAt: number | null;
  waitingAbove: number;
}

const WAIT_SECONDS = 25;

export async function measureAgentFleet(o: { databaseUrl: string; agents: number; idleMs: number; pushTimeoutMs: number }): Promise<FleetResult> {
  const tb = await startTimebox({ env: serverEnv({ DATABASE_URL: o.databaseUrl }), logger: benchLogger() });
  const stop = new AbortController();
  // Every simulated agent's poll listens on this one signal.
  setMaxListeners(0, stop.signal);
  const admin = new pg.Client({ connectionString: o.databaseUrl });
  let loops: Promise<void>[] | undefined;
  await admin.connect();
  try {
    const t = await setupTenant(tb.url, tb.bootstrap, { maxDurationSeconds: 3600 });
    const db = agentsDb(tb.store.db);
    const tokenId = randomUUID();
    const now = new Date();
    await db
      .insertInto('agent_enrolment_tokens')
      .values({ id: tokenId, tenant_id: t.tenantId, name: 'fleet', token_hash: `bench-${tokenId}`, created_by: null, created_at: now, expires_at: now })
      .execute();
    const fleet: SimAgent[] = [];
    const server = new URL(tb.url);
    for (let i = 0; i < o.agents; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const id = randomUUID();
      fleet.push({
        id,
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        client: new AgentClient({ server, agentId: id, key: privateKey }),
        version: -1,
        receivedAt: null,
        waitingAbove: Number.POSITIVE_INFINITY,
      });
    }
    for (let i = 0; i < fleet.length; i += 1_000) {
      await db
        .insertInto('agents')
        .values(
          fleet.slice(i, i + 1_000).map((a, j) => ({
            id: a.id,
            tenant_id: t.tenantId,
            name: `host-${i + j}`,
            hostname: `host-${i + j}.fleet.example`,
            public_key: a.publicKeyPem,
            agent_version: 'bench',
            enrolled_at: now,
            enrolment_token_id: tokenId,
          })),
        )
        .execute();
    }
    say(`agent fleet: ${fleet.length} agents enrolled; connecting`);

    // Each agent: the first poll answers at once, then it holds one poll after another.
    loops = fleet.map(async (a) => {
      while (!stop.signal.aborted) {
        try {
          const since = a.version;
          const r = await a.client.call('GET', `/api/v1/agents/desired-state?since=${since}&applied=${since}&wait=${since < 0 ? 0 : WAIT_SECONDS}`, undefined, {
            timeoutMs: (WAIT_SECONDS + 30) * 1000,
            signal: stop.signal,
          });
          if (r.status === 200) {
            a.version = (JSON.parse(r.text) as { version: number }).version;
            if (a.version > a.waitingAbove && a.receivedAt === null) a.receivedAt = performance.now();
          } else if (r.status !== 204) {
            throw new Error(`desired state answered ${r.status}`);
          }
        } catch (err) {
          if (stop.signal.aborted) return;
          say(`agent fleet: an agent's poll failed: ${err instanceof Error ? err.message : String(err)}`);
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    });
    // Every agent has its first state; give the held polls a moment to reach the server.
    while (fleet.some((a) => a.version < 0)) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 2_000));

    const xacts = async () => Number((await admin.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0]!.n);
    const x0 = await xacts();
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, o.idleMs));
    const cpu = process.cpuUsage(cpu0);
    const wallS = (performance.now() - w0) / 1000;
    const idleTps = ((await xacts()) - x0 - 1) / wallS;
    say(`agent fleet: idle for ${wallS.toFixed(1)} s; pushing one change to every agent`);

    // One transaction changes every agent's desired state, as an SSH trust change does.
    for (const a of fleet) a.waitingAbove = a.version;
    await tb.store.db.transaction().execute(async (tx) => {
      await sql`UPDATE agents SET desired_version = desired_version + 1 WHERE tenant_id = ${t.tenantId}::uuid`.execute(tx);
      await sql`SELECT pg_notify(${AGENT_CHANGES_CHANNEL}, id::text) FROM agents WHERE tenant_id = ${t.tenantId}::uuid`.execute(tx);
    });
    const pushed = performance.now();
    const deadline = pushed + o.pushTimeoutMs;
    while (fleet.some((a) => a.receivedAt === null) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const lat = summarize(fleet.filter((a) => a.receivedAt !== null).map((a) => a.receivedAt! - pushed));
    const rssMb = process.memoryUsage().rss / 1024 / 1024;
    return {
      agents: fleet.length,
      idleSeconds: wallS,
      idleCores: (cpu.user + cpu.system) / 1e6 / wallS,
      idleTransactionsPerSecond: idleTps,
      pushMs: { p50: lat.p50, p99: lat.p99, max: lat.max },
      missed: fleet.length - lat.n,
      rssMb,
    };
  } finally {
    stop.abort();
    await Promise.allSettled(loops ?? []);
    await admin.end();
    await tb.close();
  }
}
