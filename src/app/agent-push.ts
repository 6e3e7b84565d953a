/**
 * Changes pushed to held agent long polls. Every desired-state version bump sends a NOTIFY on
 * AGENT_CHANGES_CHANNEL in its own transaction, so it is delivered at commit and only then. This
 * process wakes its own polls directly after a commit (agent-channel.ts); on PostgreSQL one
 * LISTEN connection per server process also wakes the polls held here for changes made by other
 * replicas. A held poll then reads the database only when something changed for its agent, plus
 * a slow safety re-check, instead of once a second: 10,000 idle agents cost no queries.
 *
 * When the listening connection is lost, every held poll is woken (it may have missed a change)
 * and polls re-check every second until the connection is back.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { AGENT_CHANGES_CHANNEL, wakeAgent, wakeAllAgents } from './agent-wakes.js';
import { UUID_RE } from './agent-auth.js';

/** Re-check of a held poll while pushes arrive: only a net under a lost notification. */
export const PUSHED_RECHECK_MS = 30_000;
/** Re-check while the listener is down (or before it first connected). */
export const POLLING_RECHECK_MS = 1_000;

export interface AgentPush {
  /** How often a held long poll re-reads its version on its own. */
  recheckMs(): number;
  stop(): Promise<void>;
}

/** The embedded store runs in one process: the direct wake-up after commit reaches every poll. */
export const inProcessAgentPush: AgentPush = { recheckMs: () => PUSHED_RECHECK_MS, stop: async () => {} };

/** How the listening connection names itself in pg_stat_activity. */
export const AGENT_PUSH_APPLICATION = 'timebox agent push';

export function startAgentPush(opts: { databaseUrl: string; log: Logger; reconnectMaxMs?: number }): AgentPush {
  let client: pg.Client | null = null;
  let listening = false;
  let stopped = false;
  let retryMs = 250;
  let timer: NodeJS.Timeout | null = null;

  const lost = (err: unknown) => {
    if (stopped) return;
    if (listening) opts.log.warn({ err }, 'agent push: the listening connection was lost; agents are polled each second until it is back');
    listening = false;
    const dead = client;
    client = null;
    dead?.removeAllListeners();
    dead?.on('error', () => {}); // a late error of the dead connection must not crash the server
    dead?.end().catch(() => {});
    // A change may have been missed while nobody listened.
    wakeAllAgents();
    timer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, opts.reconnectMaxMs ?? 10_000);
  };

  async function connect() {
    timer = null;
    if (stopped) return;
    const c = new pg.Client({ connectionString: opts.databaseUrl, application_name: AGENT_PUSH_APPLICATION });
    client = c;
    c.on('error', lost);
    c.on('end', () => lost(new Error('connection ended')));
    c.on('notification', (n) => {
      if (n.channel !== AGENT_CHANGES_CHANNEL || !n.payload) return;
      const [id, version] = n.payload.split(' ');
      if (id && UUID_RE.test(id)) wakeAgent(id, version && /^\d{1,15}$/.test(version) ? Number(version) : undefined);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${AGENT_CHANGES_CHANNEL}`);
      if (stopped || client !== c) return;
      listening = true;
      retryMs = 250;
      // Changes committed between the loss and now were not heard: every held poll looks once.
      wakeAllAgents();
    } catch (err) {
      if (client === c) lost(err);
    }
  }

  void connect();
  return {
    recheckMs: () => (listening ? PUSHED_RECHECK_MS : POLLING_RECHECK_MS),
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      listening = false;
      c?.removeAllListeners();
      c?.on('error', () => {});
      await c?.end().catch(() => {});
    },
  };
}
