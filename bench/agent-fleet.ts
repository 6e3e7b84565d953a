/**
 * An agent fleet against one server on PostgreSQL: N simulated agents (bench/agent-fleet-generator.ts,
 * a process of its own), each with its own Ed25519 key and signed requests exactly as real agents
 * make them, holding the desired-state long poll. Measured: the server process's CPU while the
 * fleet is idle (fraction of one core; the generator's beside it), the database transactions per
 * second meanwhile (what an idle fleet costs PostgreSQL), the server's RSS, and, after one
 * transaction changes every agent's desired state, how long until each agent holds its new state
 * (push latency, p50/p99/max). The agents are inserted with SQL (enrolment is not what is measured).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import { AGENT_CHANGES_CHANNEL } from '../src/app/agent-wakes.js';
import { startTimebox } from '../src/server/start.js';
import { agentsDb } from '../src/store/schema-agents.js';
import type { FromGenerator, ToGenerator } from './agent-fleet-generator.js';
import { benchLogger, say, serverEnv, setupTenant } from './setup.js';
import { summarize } from './stats.js';

export interface FleetResult {
  agents: number;
  idleSeconds: number;
  /** CPU seconds per second of the server's process while every agent held a poll. */
  idleCores: number;
  /** The same for the load generator's process (for scale; not the server's cost). */
  generatorIdleCores: number;
  /** Database transactions per second meanwhile (all of them, the server's background work too). */
  idleTransactionsPerSecond: number;
  pushMs: { p50: number; p99: number; max: number };
  /** Agents that did not hold their new state within the wait. */
  missed: number;
  /** The server's process (the generator's is apart). */
  rssMb: number;
}

const WAIT_SECONDS = 25;

/** The generator's next message of a type; fails if it exits first. */
function next<T extends FromGenerator['type']>(child: ChildProcess, type: T): Promise<Extract<FromGenerator, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromGenerator) => {
      if (m.type !== type) return;
      done();
      resolve(m as Extract<FromGenerator, { type: T }>);
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`the fleet's load generator exited (${code}) before sending ${type}`));
    };
    const done = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

export async function measureAgentFleet(o: {
  databaseUrl: string;
  agents: number;
  idleMs: number;
  /** Agents come up over this spread, as a fleet reconnecting after a restart does. */
  connectSpreadMs: number;
  pushTimeoutMs: number;
}): Promise<FleetResult> {
  const tb = await startTimebox({ env: serverEnv({ DATABASE_URL: o.databaseUrl }), logger: benchLogger() });
  const admin = new pg.Client({ connectionString: o.databaseUrl });
  const generator = fork(fileURLToPath(new URL('./agent-fleet-generator.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const tell = (m: ToGenerator) => generator.send(m);
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
    const keys = next(generator, 'keys');
    tell({ type: 'start', agents: o.agents });
    const fleet = (await keys).agents;
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
    say(`agent fleet: ${fleet.length} agents enrolled; connecting over ${o.connectSpreadMs / 1000} s`);
    const connected = next(generator, 'connected');
    tell({ type: 'connect', server: tb.url, waitSeconds: WAIT_SECONDS, spreadMs: o.connectSpreadMs });
    const { failures } = await connected;
    if (failures > 0) say(`agent fleet: ${failures} polls failed while connecting (retried)`);

    const usage = async () => {
      const u = next(generator, 'usage');
      tell({ type: 'usage' });
      return u;
    };
    const xacts = async () => Number((await admin.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0]!.n);
    const x0 = await xacts();
    const g0 = await usage();
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, o.idleMs));
    const cpu = process.cpuUsage(cpu0);
    const wallS = (performance.now() - w0) / 1000;
    const g1 = await usage();
    const idleTps = ((await xacts()) - x0 - 1) / wallS;
    const rssMb = process.memoryUsage().rss / 1024 / 1024;
    say(`agent fleet: idle for ${wallS.toFixed(1)} s (generator ${((g1.cpuSeconds - g0.cpuSeconds) / wallS).toFixed(2)} cores, ${g1.rssMb.toFixed(0)} MB); pushing one change to every agent`);

    // One transaction changes every agent's desired state, as an SSH trust change does.
    const armed = next(generator, 'armed');
    const received = next(generator, 'received');
    const pushed = performance.timeOrigin + performance.now();
    tell({ type: 'arm', deadlineMs: pushed + o.pushTimeoutMs });
    await armed;
    const pushedAt = performance.timeOrigin + performance.now();
    await tb.store.db.transaction().execute(async (tx) => {
      await sql`UPDATE agents SET desired_version = desired_version + 1 WHERE tenant_id = ${t.tenantId}::uuid`.execute(tx);
      await sql`SELECT pg_notify(${AGENT_CHANGES_CHANNEL}, id::text || ' ' || desired_version) FROM agents WHERE tenant_id = ${t.tenantId}::uuid`.execute(tx);
    });
    const at = (await received).at.filter((x): x is number => x !== null);
    const lat = summarize(at.map((x) => x - pushedAt));
    return {
      agents: fleet.length,
      idleSeconds: wallS,
      idleCores: (cpu.user + cpu.system) / 1e6 / wallS,
      generatorIdleCores: (g1.cpuSeconds - g0.cpuSeconds) / wallS,
      idleTransactionsPerSecond: idleTps,
      pushMs: { p50: lat.p50, p99: lat.p99, max: lat.max },
      missed: fleet.length - lat.n,
      rssMb,
    };
  } finally {
    if (generator.exitCode === null) {
      const exited = once(generator, 'exit');
      tell({ type: 'stop' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000).unref())]);
      generator.kill('SIGKILL');
    }
    await admin.end();
    await tb.close();
  }
}
