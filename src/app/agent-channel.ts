/**
 * The server's side of the agent protocol (docs/agent.md): signed-request authentication, the
 * desired state each agent is served (long poll), the journal agents upload and their heartbeats.
 *
 * Desired state: one `agent_grants` row per server grant; `agents.desired_version` is bumped in
 * the same transaction as every change, and readers lock the agent row, so a version and its grant
 * list always match. An agent reports the version it applied (`applied`): a grant it applied is
 * "acknowledged" and its end must then be confirmed by the agent's journal, while a grant removed
 * before any state listing it was served (or before the agent applied one) is simply gone.
 *
 * A change of the tenant's SSH trust (certificate revoked early, CA created, rotated or retired)
 * bumps every agent of the tenant too (`signalSshTrustChange`): the grant list stays the same, and
 * the new version tells agents that maintain sshd's trust files to fetch them now.
 */
import { createPublicKey } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Transaction } from 'kysely';
import { AppError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { TrustChangeHook } from '../credentials/trust-signal.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import { agentsDb, storeTx, type AgentRow, type AgentsDb, type AgentsTx, type AgentGrantStatus } from '../store/schema-agents.js';
import {
  AGENT_HEADER,
  NONCE_HEADER,
  NONCE_RE,
  SIGNATURE_HEADER,
  SIGNATURE_WINDOW_MS,
  TIMESTAMP_HEADER,
  verifySignature,
} from '../agent-wire/signing.js';
import { PROTOCOL_SCHEMA_VERSION, type DesiredState, type Heartbeat, type JournalEntry, isActivationRefusal } from '../agent-wire/protocol.js';
import { recordAgentDrift } from './agent-drift.js';
import { systemActor, type AppDeps } from './deps.js';
import { loadGrant } from './grant-queries.js';
import { microBatch, type Batched } from './micro-batch.js';
import { applyGrantEvent, StaleGrantError } from './grant-transitions.js';

/* ---------- wake-ups: a change answers waiting long polls at once (in this process) ---------- */

const waiters = new Map<string, Set<() => void>>();

/** The NOTIFY channel of desired-state changes; the payload is the agent's id (agent-push.ts). */
export const AGENT_CHANGES_CHANNEL = 'timebox_agent_changes';

/** Wakes every long poll of `agentId` held by this process (other processes hear the NOTIFY). */
export function wakeAgent(agentId: string): void {
  for (const w of waiters.get(agentId) ?? []) w();
}

/** Wakes every held long poll of this process: each re-reads its version once. */
export function wakeAllAgents(): void {
  for (const set of waiters.values()) for (const w of set) w();
}

function onWake(agentId: string, fn: () => void): () => void {
  let set = waiters.get(agentId);
  if (!set) waiters.set(agentId, (set = new Set()));
  set.add(fn);
  return () => {
    set!.delete(fn);
    if (set!.size === 0) waiters.delete(agentId);
  };
}

/* ---------- authentication ---------- */

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const unauthorized = (why: string) => new AppError('unauthorized', `agent authentication failed: ${why}`);

export interface AgentAuthInput {
  method: string;
  /** The request target as received (path and query). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  /** When the agent is recorded as seen (the business clock); defaults to the real time. */
  seenAt?: Date;
}

let lastNonceSweep = 0;

/**
 * Checks the signature headers: a known, unrevoked agent; a timestamp within the window of the
 * real time (not the business clock: the window is a transport matter); a valid Ed25519 signature
 * over the canonical request; a nonce not seen before. Every failure is a 401.
 */
export async function authenticateAgent(db: AgentsDb, input: AgentAuthInput, now: () => number = () => systemClock.now().getTime()): Promise<AgentRow> {
  const h = (name: string) => {
    const v = input.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const agentId = h(AGENT_HEADER);
  const ts = h(TIMESTAMP_HEADER);
  const nonce = h(NONCE_HEADER);
  const signature = h(SIGNATURE_HEADER);
  if (!agentId || !ts || !nonce || !signature) throw unauthorized(`missing ${[AGENT_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER].join(', ')} headers`);
  if (!UUID_RE.test(agentId) || !/^\d{10,16}$/.test(ts) || !NONCE_RE.test(nonce)) throw unauthorized('malformed signature headers');
  const timestampMs = Number(ts);
  const t = now();
  if (Math.abs(t - timestampMs) > SIGNATURE_WINDOW_MS) {
    throw unauthorized(`the request timestamp is ${Math.round((t - timestampMs) / 1000)} s away from the server's time (allowed: ${SIGNATURE_WINDOW_MS / 1000} s); check the host's clock`);
  }
  const agent = await db.selectFrom('agents').selectAll().where('id', '=', agentId).executeTakeFirst();
  if (!agent) throw unauthorized('unknown agent');
  let ok = false;
  try {
    ok = verifySignature(createPublicKey(agent.public_key), { agentId, method: input.method, path: input.url, timestampMs, nonce, body: input.rawBody }, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw unauthorized('bad signature');
  if (agent.revoked_at) throw unauthorized('this agent was revoked by an administrator');
  // After the signature: nobody else can fill the nonce table. The agent is seen in the same
  // statement (one commit per signed request, not two: a fleet's polls are mostly this).
  const inserted = await db
    .with('n', (q) =>
      q
        .insertInto('agent_request_nonces')
        .values({ agent_id: agentId, nonce, expires_at: new Date(timestampMs + 2 * SIGNATURE_WINDOW_MS) })
        .onConflict((oc) => oc.columns(['agent_id', 'nonce']).doNothing())
        .returning('nonce'),
    )
    .with('seen', (q) =>
      q
        .updateTable('agents')
        .set({ last_seen_at: input.seenAt ?? new Date(t) })
        .where('id', '=', agentId)
        .where((eb) => eb.exists(eb.selectFrom('n').select('n.nonce')))
        .returning('agents.id'),
    )
    .selectFrom('n')
    .select('n.nonce')
    .executeTakeFirst();
  if (!inserted) throw unauthorized('replayed request (this nonce was already used)');
  if (t - lastNonceSweep > 60_000) {
    lastNonceSweep = t;
    await db.deleteFrom('agent_request_nonces').where('expires_at', '<', new Date(t)).execute();
  }
  return agent;
}

/* ---------- desired state ---------- */

/** Bumps the agent's version inside `tx` (call before changing its grants); returns the new one. */
export async function bumpDesiredVersion(tx: AgentsTx, agentId: string): Promise<number> {
  const row = await tx
    .updateTable('agents')
    .set({ desired_version: sql<string>`desired_version + 1` })
    .where('id', '=', agentId)
    .returning('desired_version')
    .executeTakeFirstOrThrow();
  // Delivered to every listening server process at commit, never before (nor on rollback).
  await sql`SELECT pg_notify(${AGENT_CHANGES_CHANNEL}, ${agentId})`.execute(tx);
  return Number(row.desired_version);
}

/**
 * The credential engines' hook: SSH trust of a tenant changed. Every unrevoked agent of the tenant
 * gets a new version in the changing transaction (rows locked in id order, so concurrent changes
 * never deadlock), and after the commit this process's held long polls are woken; other server
 * processes hear the NOTIFY. Agents then refetch the KRL and CA
 * keys (conditional GETs: unchanged files cost a 304).
 */
export const signalSshTrustChange: TrustChangeHook = async (tx: Transaction<Database>, change) => {
  if (change.kind !== 'ssh') return;
  const db = agentsDb(tx);
  const agents = await db
    .selectFrom('agents')
    .select('id')
    .where('tenant_id', '=', change.tenantId)
    .where('revoked_at', 'is', null)
    .orderBy('id')
    .forUpdate()
    .execute();
  if (agents.length === 0) return;
  const ids = agents.map((a) => a.id);
  await db.updateTable('agents').set({ desired_version: sql<string>`desired_version + 1` }).where('id', 'in', ids).execute();
  await sql`SELECT pg_notify(${AGENT_CHANGES_CHANNEL}, id) FROM unnest(${ids}::text[]) AS id`.execute(tx);
  return () => ids.forEach(wakeAgent);
};

export const passwordContext = (grantId: string) => `agent-grant:${grantId}:password`;

type StateDeps = { db: AgentsDb; secrets: SecretBox; clock: Clock };

/**
 * Agents' current desired states (passwords decrypted), each read consistently with its version;
 * several at once when one change woke a fleet (micro-batch.ts).
 */
async function readDesiredStates(deps: StateDeps, agentIds: string[]): Promise<Map<string, { agent: AgentRow; state: DesiredState }>> {
  return deps.db.transaction().execute(async (tx) => {
    // The update's row locks order this read with every version bump: a version and its grants
    // match. Rows are locked in id order, as a trust change locks them, so the two never
    // deadlock. Recording what is served takes the locks and reads the rows in one round trip.
    // One array parameter, not a list: one statement text whatever the batch's size.
    const ids = sql<string>`ANY(${agentIds}::uuid[])`;
    const locked = tx.selectFrom('agents').select('id').where('id', '=', ids).orderBy('id').forUpdate();
    const agents = await tx
      .updateTable('agents')
      .set((eb) => ({ served_version: eb.ref('desired_version') }))
      .where('id', 'in', locked)
      .returningAll()
      .execute();
    const rows = await tx
      .selectFrom('agent_grants')
      .select(['agent_id', 'grant_id', 'spec', 'password_enc'])
      .where('agent_id', '=', ids)
      .where('removed_at', 'is', null)
      .orderBy('created_at')
      .execute();
    const issuedAt = deps.clock.now().toISOString();
    const states = new Map<string, { agent: AgentRow; state: DesiredState }>();
    for (const agent of agents) {
      states.set(agent.id, { agent, state: { schemaVersion: PROTOCOL_SCHEMA_VERSION, version: Number(agent.desired_version), issuedAt, grants: [] } });
    }
    for (const r of rows) {
      states.get(r.agent_id)?.state.grants.push({
        ...(JSON.parse(r.spec) as Record<string, unknown>),
        ...(r.password_enc ? { password: deps.secrets.decrypt(r.password_enc, passwordContext(r.grant_id)) } : {}),
      } as DesiredState['grants'][number]);
    }
    return states;
  });
}

type VersionRow = Pick<AgentRow, 'id' | 'desired_version' | 'revoked_at'>;

/** The held polls' reads, gathered per store (one change may wake thousands of polls at once). */
const pollReads = new WeakMap<AgentsDb, { version: Batched<string, VersionRow>; state: Batched<string, { agent: AgentRow; state: DesiredState }> }>();

function pollReadsOf(deps: StateDeps) {
  let r = pollReads.get(deps.db);
  if (!r) {
    r = {
      version: microBatch(async (ids) => {
        const rows = await deps.db.selectFrom('agents').select(['id', 'desired_version', 'revoked_at']).where('id', '=', sql<string>`ANY(${ids}::uuid[])`).execute();
        return new Map(rows.map((row) => [row.id, row]));
      }),
      state: microBatch((ids) => readDesiredStates(deps, ids)),
    };
    pollReads.set(deps.db, r);
  }
  return r;
}

/**
 * Records the version the agent applied and acknowledges the grants it listed, in one statement
 * that changes nothing (and so commits nothing to disk) when the agent reports what it did before:
 * the usual case for a poll. Being seen is recorded with the request's authentication.
 */
export async function noteApplied(db: AgentsDb, agentId: string, applied: number, now: Date): Promise<void> {
  if (applied < 1) return;
  await db
    .with('v', (q) =>
      q
        .updateTable('agents')
        .set({ applied_version: String(applied) })
        .where('id', '=', agentId)
        .where('applied_version', '<', String(applied))
        .returning('agents.id'),
    )
    .updateTable('agent_grants')
    .set({ acknowledged: true, updated_at: now })
    .where('agent_id', '=', agentId)
    .where('acknowledged', '=', false)
    .where('added_version', '<=', String(applied))
    .where((eb) => eb.or([eb('removed_version', 'is', null), eb('removed_version', '>', String(applied))]))
    .execute();
}

export interface WaitOptions {
  since: number;
  waitMs: number;
  signal: AbortSignal;
  /** How long to wait before re-reading the version unprompted (agent-push.ts); 1 s when absent. */
  recheckMs?: () => number;
}

/**
 * Long poll: the state as soon as its version passes `since`, or null when `waitMs` ran out or
 * `signal` aborted (server shutting down, client gone). A revoked agent gets a 401 even mid-wait.
 */
export async function waitForDesiredState(
  deps: StateDeps,
  agentId: string,
  opts: WaitOptions,
): Promise<DesiredState | null> {
  const deadline = Date.now() + opts.waitMs;
  const reads = pollReadsOf(deps);
  for (;;) {
    // Shutting down or the client left: the store may already be closing.
    if (opts.signal.aborted) return null;
    // Listen before reading: a change committed while the read is in flight (its wake may be
    // handled before the read's answer) cuts the sleep short instead of waiting for the recheck.
    const stop = new AbortController();
    const off = onWake(agentId, () => stop.abort());
    const onAbort = () => stop.abort();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const agent = await reads.version(agentId);
      if (!agent || agent.revoked_at) throw unauthorized('this agent was revoked by an administrator');
      if (Number(agent.desired_version) > opts.since) {
        const found = await reads.state(agentId);
        if (!found || found.agent.revoked_at) throw unauthorized('this agent was revoked by an administrator');
        return found.state;
      }
      const left = deadline - Date.now();
      if (left <= 0 || opts.signal.aborted) return null;
      await sleep(Math.min(left, opts.recheckMs?.() ?? 1_000), undefined, { signal: stop.signal }).catch(() => undefined);
    } finally {
      off();
      opts.signal.removeEventListener('abort', onAbort);
    }
  }
}

/* ---------- journal and heartbeat ---------- */

const statusByEvent: Partial<Record<JournalEntry['event'], AgentGrantStatus>> = {
  accepted: 'accepted',
  provisioned: 'provisioned',
  activated: 'active',
  ended: 'ended',
  rejected: 'rejected',
};
/** Later states are never overwritten by earlier ones arriving late. */
const rank: Record<AgentGrantStatus, number> = { sent: 0, accepted: 1, provisioned: 2, active: 3, ended: 4, rejected: 4 };

/**
 * Stores new journal entries (duplicates by id are ignored) and applies what they mean: the
 * password is erased (and dropped from the desired state) once the account exists with it; an end
 * verified on the host lets the server's revocation finish; a refusal is shown on the grant.
 */
export async function ingestJournal(
  deps: AppDeps,
  agent: AgentRow,
  entries: JournalEntry[],
): Promise<{ stored: number; duplicates: number }> {
  const db = agentsDb(deps.db);
  const now = deps.clock.now();
  let stored = 0;
  const ended: string[] = [];
  const refused = new Map<string, string>();
  await db.transaction().execute(async (tx) => {
    let bump = false;
    for (const e of entries) {
      const inserted = await tx
        .insertInto('agent_journal')
        .values({
          agent_id: agent.id,
          entry_id: e.id.slice(0, 200),
          grant_id: e.grantId?.slice(0, 100) ?? null,
          event: e.event,
          message: e.message.slice(0, 2000),
          at: new Date(e.at),
          verified: e.verified ? JSON.stringify(e.verified).slice(0, 4000) : null,
          received_at: now,
        })
        .onConflict((oc) => oc.columns(['agent_id', 'entry_id']).doNothing())
        .returning('entry_id')
        .executeTakeFirst();
      if (!inserted) continue;
      stored++;
      // Drift says nothing about the grant's progress on the host: audited (and alerted) with the entry.
      if (e.event === 'drift') {
        await recordAgentDrift(deps, storeTx(tx), agent, e);
        continue;
      }
      if (!e.grantId || !UUID_RE.test(e.grantId)) continue;
      const row = await tx
        .selectFrom('agent_grants')
        .select(['grant_id', 'agent_status', 'password_enc'])
        .where('grant_id', '=', e.grantId)
        .where('agent_id', '=', agent.id)
        .forUpdate()
        .executeTakeFirst();
      if (!row) continue;
      const status = statusByEvent[e.event];
      const patch: { agent_status?: AgentGrantStatus; agent_message?: string; password_enc?: null; ended_at?: Date; acknowledged?: boolean; updated_at: Date } = { updated_at: now };
      if (status && rank[status] >= rank[row.agent_status]) patch.agent_status = status;
      if (e.event !== 'accepted') patch.agent_message = e.message.slice(0, 2000);
      // The agent knew the grant: its end must be confirmed, not assumed.
      if (e.event !== 'rejected') patch.acknowledged = true;
      if ((e.event === 'provisioned' || e.event === 'activated' || e.event === 'ended' || e.event === 'rejected') && row.password_enc) {
        patch.password_enc = null;
        bump = true;
      }
      if (e.event === 'ended') {
        patch.ended_at = new Date(e.at);
        ended.push(row.grant_id);
      }
      await tx.updateTable('agent_grants').set(patch).where('grant_id', '=', row.grant_id).execute();
      if (e.event === 'rejected' || isActivationRefusal(e)) {
        await tx
          .updateTable('grants')
          .set({ last_error: `the agent on ${agent.hostname} refused the grant: ${e.message}`.slice(0, 2000) })
          .where('id', '=', row.grant_id)
          .execute();
        if (e.event === 'rejected') {
          ended.push(row.grant_id);
          refused.set(row.grant_id, e.message);
        }
      }
    }
    if (bump) await bumpDesiredVersion(tx, agent.id);
  });
  if (ended.length) {
    // The revocation waiting for this confirmation runs now instead of after its backoff.
    await db
      .updateTable('scheduled_work')
      .set({ due_at: now })
      .where('grant_id', 'in', ended)
      .where('kind', '=', 'revoke')
      .where('due_at', '>', now)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
      .execute();
    deps.poke();
  }
  for (const [grantId, message] of refused) await endRefusedGrant(deps, grantId, `the agent on ${agent.hostname} refused the grant: ${message}`);
  wakeAgent(agent.id);
  return { stored, duplicates: entries.length - stored };
}

/**
 * A grant the host refused (it arrived while the activation was not waiting for the agent's
 * answer) does not run there: it is ended now, with the agent's reason, instead of showing
 * "active" until its end time.
 */
async function endRefusedGrant(deps: AppDeps, grantId: string, reason: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const grant = await loadGrant(deps.db, grantId);
    if (!grant || grant.state !== 'active') return;
    try {
      await deps.db.transaction().execute((tx) => applyGrantEvent(deps, tx, grant, { type: 'revoke', reason: reason.slice(0, 1000) }, systemActor, { reason: reason.slice(0, 1000) }));
      deps.poke();
      return;
    } catch (err) {
      if (!(err instanceof StaleGrantError)) throw err;
    }
  }
}

export async function recordHeartbeat(deps: Pick<AppDeps, 'db' | 'clock'>, agent: AgentRow, hb: Heartbeat): Promise<void> {
  const db = agentsDb(deps.db);
  const now = deps.clock.now();
  await db.updateTable('agents').set({ agent_version: hb.version, health: JSON.stringify(hb.health) }).where('id', '=', agent.id).execute();
  await noteApplied(db, agent.id, hb.health.appliedVersion, now);
}
