/**
 * The fleet benchmark's load generator, in a process of its own (forked by agent-fleet.ts): each
 * simulated agent has its own Ed25519 key and makes signed requests exactly as a real agent does,
 * holding the desired-state long poll. Apart from the server, so that the server's CPU and memory
 * are measured alone and each process holds its own 10,000 sockets (a process may hold 20,000
 * descriptors on these machines; server and agents together need more).
 *
 * Messages (child_process IPC): start → keys; connect → connected; usage → usage; arm → armed,
 * then received once every agent holds a version above the armed one, or at the deadline; stop.
 */
import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import { AgentClient } from '../src/agent/http-client.js';

export type ToGenerator =
  | { type: 'start'; agents: number }
  | { type: 'connect'; server: string; waitSeconds: number; spreadMs: number }
  | { type: 'usage' }
  | { type: 'arm'; deadlineMs: number }
  | { type: 'stop' };

export type FromGenerator =
  | { type: 'keys'; agents: { id: string; publicKeyPem: string }[] }
  | { type: 'connected'; failures: number }
  | { type: 'usage'; cpuSeconds: number; rssMb: number }
  | { type: 'armed' }
  /** Epoch milliseconds at which each agent held its new state, null if it did not in time. */
  | { type: 'received'; at: (number | null)[] };

interface SimAgent {
  id: string;
  key: ReturnType<typeof generateKeyPairSync>['privateKey'];
  client: AgentClient | null;
  version: number;
  waitingAbove: number;
  receivedAt: number | null;
  /** Its own: one signal shared by 10,000 requests costs O(n) per listener added (EventTarget). */
  stop: AbortController;
}

const now = () => performance.timeOrigin + performance.now();
const send = (m: FromGenerator) => process.send!(m);
let stopping = false;

// Each real agent keeps its one connection between polls. The default pool closes free sockets
// beyond 256, which would make most of 10,000 simulated agents reconnect for every poll.
http.globalAgent = new http.Agent({ keepAlive: true, maxFreeSockets: Number.POSITIVE_INFINITY });
let fleet: SimAgent[] = [];
let failures = 0;
let loops: Promise<void>[] = [];

/*
 * One process stands for 10,000 hosts. On real hosts one agent's next poll never delays another
 * agent's answer; here it would (same event loop, same cores): a burst of signed polls leaves
 * the answers waiting in their sockets. So while a push is measured, an answered agent sends its
 * next poll once every agent holds the new state (or at the deadline): receipt times measure the
 * server, not this process's queue. The server still receives every next poll.
 */
let pushEnd: Promise<void> | null = null;

async function poll(a: SimAgent, waitSeconds: number) {
  while (!stopping) {
    try {
      const since = a.version;
      const r = await a.client!.call('GET', `/api/v1/agents/desired-state?since=${since}&applied=${since}&wait=${since < 0 ? 0 : waitSeconds}`, undefined, {
        timeoutMs: (waitSeconds + 60) * 1000,
        signal: a.stop.signal,
      });
      if (r.status === 200) {
        a.version = (JSON.parse(r.text) as { version: number }).version;
        if (a.version > a.waitingAbove && a.receivedAt === null) a.receivedAt = now();
        if (pushEnd) await pushEnd;
      } else if (r.status !== 204) {
        throw new Error(`desired state answered ${r.status}`);
      }
    } catch (err) {
      if (stopping) return;
      if (failures++ < 5) process.stderr.write(`agent fleet: an agent's poll failed: ${err instanceof Error ? err.message : String(err)}\n`);
      await new Promise((r) => setTimeout(r, 1_000 + Math.random() * 2_000));
    }
  }
}

const waitUntil = async (done: () => boolean, deadline: number) => {
  while (!done() && now() < deadline) await new Promise((r) => setTimeout(r, 20));
};

process.on('message', async (m: ToGenerator) => {
  if (m.type === 'start') {
    fleet = Array.from({ length: m.agents }, () => {
      const { privateKey } = generateKeyPairSync('ed25519');
      return { id: randomUUID(), key: privateKey, client: null, version: -1, waitingAbove: Number.POSITIVE_INFINITY, receivedAt: null, stop: new AbortController() };
    });
    send({
      type: 'keys',
      agents: fleet.map((a) => ({ id: a.id, publicKeyPem: createPublicKey(a.key).export({ type: 'spki', format: 'pem' }).toString() })),
    });
  } else if (m.type === 'connect') {
    const server = new URL(m.server);
    // Agents come up over a spread, as a fleet does after a server restart (each waits a
    // random moment), not as one synchronised storm.
    loops = fleet.map(async (a) => {
      await new Promise((r) => setTimeout(r, Math.random() * m.spreadMs));
      a.client = new AgentClient({ server, agentId: a.id, key: a.key });
      await poll(a, m.waitSeconds);
    });
    await waitUntil(() => fleet.every((a) => a.version >= 0), Number.POSITIVE_INFINITY);
    // Give the held polls a moment to reach the server.
    await new Promise((r) => setTimeout(r, 2_000));
    send({ type: 'connected', failures });
  } else if (m.type === 'usage') {
    const cpu = process.cpuUsage();
    send({ type: 'usage', cpuSeconds: (cpu.user + cpu.system) / 1e6, rssMb: process.memoryUsage().rss / 1024 / 1024 });
  } else if (m.type === 'arm') {
    for (const a of fleet) a.waitingAbove = a.version;
    let ended!: () => void;
    pushEnd = new Promise<void>((resolve) => (ended = resolve));
    send({ type: 'armed' });
    await waitUntil(() => fleet.every((a) => a.receivedAt !== null), m.deadlineMs);
    send({ type: 'received', at: fleet.map((a) => a.receivedAt) });
    pushEnd = null;
    ended();
  } else if (m.type === 'stop') {
    stopping = true;
    for (const a of fleet) a.stop.abort();
    await Promise.allSettled(loops);
    process.exit(0);
  }
});
