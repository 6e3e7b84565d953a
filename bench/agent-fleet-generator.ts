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
import { setMaxListeners } from 'node:events';
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
}

const now = () => performance.timeOrigin + performance.now();
const send = (m: FromGenerator) => process.send!(m);
const stop = new AbortController();
setMaxListeners(0, stop.signal);
let fleet: SimAgent[] = [];
let failures = 0;
let loops: Promise<void>[] = [];

async function poll(a: SimAgent, waitSeconds: number) {
  while (!stop.signal.aborted) {
    try {
      const since = a.version;
      const r = await a.client!.call('GET', `/api/v1/agents/desired-state?since=${since}&applied=${since}&wait=${since < 0 ? 0 : waitSeconds}`, undefined, {
        timeoutMs: (waitSeconds + 60) * 1000,
        signal: stop.signal,
      });
      if (r.status === 200) {
        a.version = (JSON.parse(r.text) as { version: number }).version;
        if (a.version > a.waitingAbove && a.receivedAt === null) a.receivedAt = now();
      } else if (r.status !== 204) {
        throw new Error(`desired state answered ${r.status}`);
      }
    } catch (err) {
      if (stop.signal.aborted) return;
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
      return { id: randomUUID(), key: privateKey, client: null, version: -1, waitingAbove: Number.POSITIVE_INFINITY, receivedAt: null };
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
    send({ type: 'armed' });
    await waitUntil(() => fleet.every((a) => a.receivedAt !== null), m.deadlineMs);
    send({ type: 'received', at: fleet.map((a) => a.receivedAt) });
  } else if (m.type === 'stop') {
    stop.abort();
    await Promise.allSettled(loops);
    process.exit(0);
  }
});
