/**
 * Agent long polls on one replica hear changes made through another (PostgreSQL LISTEN/NOTIFY),
 * instead of re-reading the database every second: a poll held on server B is answered as soon
 * as a grant is made through server A. When B's listening connection is killed, a change is
 * still delivered (every held poll looks again, and polls re-check each second until the
 * listener is back), and the listener comes back by itself.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KyselyPlugin } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it, vi } from 'vitest';
import { AgentClient } from '../../src/agent/http-client.js';
import { enrollAgent, loadIdentity } from '../../src/agent/identity.js';
import { waitForDesiredState } from '../../src/app/agent-channel.js';
import { wakeAgent, wakeMarkOf } from '../../src/app/agent-wakes.js';
import { AGENT_PUSH_APPLICATION } from '../../src/app/agent-push.js';
import { startTimebox, type Timebox } from '../../src/server/start.js';
import { agentsDb } from '../../src/store/schema-agents.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { hostTargetWithPolicy, startRestartableServer, type RestartableServer } from './agent-support.js';

const T = '/api/v1/tenants/default';
let database: TestDatabase;
let a: RestartableServer;
let b: Timebox;
let stateDir: string;
let dataDir = '';
let viaB: AgentClient;
let targetId: string;
let agent = '';

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  // Both replicas in one folder: they share the audit signing key (a file in it).
  dataDir = await mkdtemp(path.join(tmpdir(), 'tb-agent-push-data-'));
  const shared = { DATABASE_URL: database.url, TIMEBOX_DATA_DIR: dataDir, TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64') };
  a = await startRestartableServer(shared);
  b = await startTimebox({
    env: { ...shared, PORT: '0', HOST: '127.0.0.1', TIMEBOX_LOG_LEVEL: process.env.TIMEBOX_TEST_LOG ?? 'silent', TIMEBOX_OUTBOUND_ALLOW: 'loopback', TIMEBOX_WORKER_ID: 'replica-b' },
  });
  stateDir = await mkdtemp(path.join(tmpdir(), 'tb-agent-push-'));
  const token = await a.admin.post(`${T}/agents/enrolment-tokens`, { name: 'web-01', expiresInMinutes: 10 });
  expect(token.status, JSON.stringify(token.body)).toBe(201);
  const { agentId } = await enrollAgent({ server: a.url, token: token.body.token, stateDir, hostname: 'web-01.example.test' });
  agent = agentId;
  const enrolled = (await loadIdentity(stateDir))!;
  // The agent talks to replica B; everything else goes through A.
  viaB = new AgentClient({ server: new URL(b.url), agentId, key: enrolled.key });
  ({ targetId } = await hostTargetWithPolicy(a.admin, agentId));
  await listenerUp();
}, 120_000);

afterAll(async () => {
  await b?.close();
  await a?.destroy();
  await database?.drop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const poll = async (since: number, wait: number) => {
  const r = await viaB.call('GET', `/api/v1/agents/desired-state?since=${since}&applied=${since}&wait=${wait}`, undefined, { timeoutMs: (wait + 20) * 1000 });
  return { status: r.status, state: r.status === 200 ? (JSON.parse(r.text) as { version: number; grants: { username: string }[] }) : null };
};

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Replica B's listening connection, as PostgreSQL sees it. */
const listeners = () =>
  withAdmin(async (c) => (await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [AGENT_PUSH_APPLICATION])).rows);
const listenerUp = () =>
  vi.waitFor(async () => expect((await listeners()).length).toBeGreaterThanOrEqual(2), { timeout: 30_000, interval: 100 });

let grantId = '';

it('answers a poll held on one replica as soon as a grant is made through another', async () => {
  const first = await poll(-1, 0);
  expect(first.status).toBe(200);
  // Held for 25 s: a re-check (30 s while pushes arrive) would not answer it in time.
  const held = poll(first.state!.version, 25);
  const asked = Date.now();
  const req = await a.admin.post(`${T}/requests`, { targetId, entitlements: ['users'], durationSeconds: 600, reason: 'agent push test', accountName: 'push_jit' });
  expect(req.status, JSON.stringify(req.body)).toBe(201);
  grantId = req.body.id;
  const answered = await held;
  const tookMs = Date.now() - asked;
  expect(answered.status).toBe(200);
  expect(answered.state!.grants.map((g) => g.username)).toEqual(['push_jit']);
  expect(tookMs).toBeLessThan(15_000);
  console.log(`agent push across replicas: answered ${tookMs} ms after the request was sent`);
});

it('still delivers a change when the listening connection is killed, and listens again by itself', async () => {
  const now = await poll(-1, 0);
  // Kill every listener of both replicas, as a database restart or a network cut would.
  await withAdmin((c) => c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [AGENT_PUSH_APPLICATION]));
  const held = poll(now.state!.version, 25);
  // Ended early through A: the grant leaves the agent's desired state.
  const ended = await a.admin.post(`${T}/grants/${grantId}/revoke`, { reason: 'done' });
  expect(ended.status, JSON.stringify(ended.body)).toBe(200);
  const answered = await held;
  expect(answered.status).toBe(200);
  expect(answered.state!.version).toBeGreaterThan(now.state!.version);
  expect(answered.state!.grants).toEqual([]);
  await listenerUp();
});

it('does not miss a change committed while the poll is reading its version', async () => {
  const before = (await poll(-1, 0)).state!.version;
  let raced = false;
  // The change commits, and its wake is handled, after the poll's read ran but before its answer
  // reached the poll: the order in which one process can see the two sockets.
  const race: KyselyPlugin = {
    transformQuery: (q) => q.node,
    async transformResult(r) {
      if (!raced) {
        raced = true;
        await withAdmin((c) => c.query('UPDATE agents SET desired_version = desired_version + 1 WHERE id = $1', [agent]));
        wakeAgent(agent);
      }
      return r.result;
    },
  };
  const deps = { db: agentsDb(b.deps.db.withPlugin(race)), secrets: b.deps.secrets, clock: b.deps.clock };
  // The re-check is a minute away: only the wake can answer within the test's time.
  const state = await waitForDesiredState(deps, agent, { since: before, waitMs: 60_000, signal: new AbortController().signal, recheckMs: () => 60_000 });
  expect(raced).toBe(true);
  expect(state?.version).toBe(before + 1);
}, 20_000);

it('does not miss a change committed between the request\'s authentication and the start of its wait', async () => {
  // The authentication read the version; the poll starts listening only after it. A change (and
  // its wake) in between must not be covered by the version read before it.
  const before = (await poll(-1, 0)).state!.version;
  const mark = wakeMarkOf(agent);
  await withAdmin((c) => c.query('UPDATE agents SET desired_version = desired_version + 1 WHERE id = $1', [agent]));
  wakeAgent(agent);
  const deps = { db: agentsDb(b.deps.db), secrets: b.deps.secrets, clock: b.deps.clock };
  const state = await waitForDesiredState(deps, agent, {
    since: before,
    waitMs: 60_000,
    signal: new AbortController().signal,
    recheckMs: () => 60_000,
    known: { version: before, wakeMark: mark },
  });
  expect(state?.version).toBe(before + 1);
}, 20_000);

it('gives each of several agents woken together its own grants and nothing of the others', async () => {
  // Two more hosts, each with its own grant; both agents' states are then read in one batch.
  const dirs: string[] = [];
  try {
    const host = async (name: string) => {
      const dir = await mkdtemp(path.join(tmpdir(), `tb-agent-push-${name}-`));
      dirs.push(dir);
      const token = await a.admin.post(`${T}/agents/enrolment-tokens`, { name, expiresInMinutes: 10 });
      const { agentId } = await enrollAgent({ server: a.url, token: token.body.token, stateDir: dir, hostname: `${name}.example.test` });
      const added = await a.admin.post(`${T}/agents/${agentId}/target`, { name });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
      const policy = await a.admin.post(`${T}/policies`, { name: `${name} access`, targetId: added.body.target.id, requesterRoles: ['owner'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
      expect(policy.status, JSON.stringify(policy.body)).toBe(201);
      const accountName = `${name.replace('-', '')}_jit`;
      const req = await a.admin.post(`${T}/requests`, { targetId: added.body.target.id, entitlements: ['users'], durationSeconds: 600, reason: 'batch test', accountName });
      expect(req.status, JSON.stringify(req.body)).toBe(201);
      return { agentId, accountName };
    };
    const first = await host('web-02');
    const second = await host('web-03');
    const deps = { db: agentsDb(b.deps.db), secrets: b.deps.secrets, clock: b.deps.clock };
    const wait = (id: string) => waitForDesiredState(deps, id, { since: -1, waitMs: 0, signal: new AbortController().signal });
    const [one, two] = await Promise.all([wait(first.agentId), wait(second.agentId)]);
    const names = (s: typeof one) => s!.grants.map((g) => (g as { username: string }).username);
    expect(names(one)).toEqual([first.accountName]);
    expect(names(two)).toEqual([second.accountName]);
    expect(JSON.stringify(one)).not.toContain(second.accountName);
    expect(JSON.stringify(two)).not.toContain(first.accountName);
  } finally {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
});
