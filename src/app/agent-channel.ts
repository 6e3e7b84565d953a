/**
 * The server's side of the agent protocol (docs/agent.md): the desired state each agent is served
 * (long poll), the journal agents upload and their heartbeats. Authentication is agent-auth.ts,
 * wake-ups agent-wakes.ts.
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
import { sql, type Transaction } from 'kysely';
import type { Clock } from '../core/clock.js';
import { badRequest } from '../core/errors.js';
import type { TrustChangeHook } from '../credentials/trust-signal.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import { agentsDb, storeTx, type AgentRow, type AgentsDb, type AgentsTx, type AgentGrantStatus } from '../store/schema-agents.js';
import { PROTOCOL_SCHEMA_VERSION, type DesiredState, type Heartbeat, type JournalEntry, isActivationRefusal } from '../agent-wire/protocol.js';
import { unauthorized, UUID_RE } from './agent-auth.js';
import { recordAgentDrift } from './agent-drift.js';
import { AGENT_CHANGES_CHANNEL, answerOwed, onWake, sameWakes, wakeAgent, type WakeMark } from './agent-wakes.js';
import { systemActor, type AppDeps } from './deps.js';
import { loadGrant } from './grant-queries.js';
import { microBatch, type Batched } from './micro-batch.js';
import { applyGrantEvent, StaleGrantError } from './grant-transitions.js';

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
  await sql`SELECT pg_notify(${AGENT_CHANGES_CHANNEL}, ${`${agentId} ${row.desired_version}`})`.execute(tx);
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
  const bumped = await db
    .updateTable('agents')
    .set({ desired_version: sql<string>`desired_version + 1` })
    .where('id', 'in', ids)
    .returning(['id', 'desired_version'])
    .execute();
  const payloads = bumped.map((a) => `${a.id} ${a.desired_version}`);
  await sql`SELECT pg_notify(${AGENT_CHANGES_CHANNEL}, p) FROM unnest(${payloads}::text[]) AS p`.execute(tx);
  return () => ids.forEach(wakeAgent);
};

export const passwordContext = (grantId: string) => `agent-grant:${grantId}:password`;

type StateDeps = { db: AgentsDb; secrets: SecretBox; clock: Clock };
type VersionRow = Pick<AgentRow, 'id' | 'desired_version' | 'revoked_at'>;

/**
 * Agents' current desired states (passwords decrypted), each read consistently with its version;
 * several at once when one change woke a fleet (micro-batch.ts).
 */
async function readDesiredStates(deps: StateDeps, agentIds: string[]): Promise<Map<string, { agent: VersionRow; state: DesiredState }>> {
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
      .returning(['id', 'desired_version', 'revoked_at'])
      .execute();
    const rows = await tx
      .selectFrom('agent_grants')
      .select(['agent_id', 'grant_id', 'spec', 'password_enc'])
      .where('agent_id', '=', ids)
      .where('removed_at', 'is', null)
      .orderBy('created_at')
      .execute();
    const issuedAt = deps.clock.now().toISOString();
    const states = new Map<string, { agent: VersionRow; state: DesiredState }>();
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

/** The held polls' reads, gathered per store (one change may wake thousands of polls at once). */
const pollReads = new WeakMap<AgentsDb, { version: Batched<string, VersionRow>; state: Batched<string, { agent: VersionRow; state: DesiredState }> }>();

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
 * Records the version the agent applied and acknowledges the grants it listed, in one statement.
 * `agent` is the row its request's authentication returned: a version it already recorded (the
 * usual case for a poll) costs nothing, as the statement that recorded it acknowledged every
 * grant that version listed. Being seen is recorded with the authentication.
 */
export async function noteApplied(db: AgentsDb, agent: Pick<AgentRow, 'id' | 'applied_version' | 'served_version'>, applied: number, now: Date): Promise<void> {
  refuseUnserved(agent, applied);
  if (applied < 1 || applied <= Number(agent.applied_version)) return;
  const agentId = agent.id;
  await db
    .with('v', (q) =>
      q
        .updateTable('agents')
        .set({ applied_version: String(applied) })
        .where('id', '=', agentId)
        .where('applied_version', '<', String(applied))
        .where('served_version', '>=', String(applied))
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

/**
 * An agent applies only what it was served. A version beyond that would mark grants the host was
 * never told to drop as gone from it, and a later revocation as verified without the host.
 */
function refuseUnserved(agent: Pick<AgentRow, 'served_version'>, applied: number): void {
  if (applied > Number(agent.served_version)) {
    throw badRequest(`appliedVersion ${applied} was never served to this agent (the last served is ${agent.served_version})`);
  }
}

export interface WaitOptions {
  since: number;
  waitMs: number;
  signal: AbortSignal;
  /** How long to wait before re-reading the version unprompted (agent-push.ts); 1 s when absent. */
  recheckMs?: () => number;
  /**
   * The version the request's authentication read, and the wakes counted before it: used instead
   * of a first read when no wake for this agent came since (an idle renewal then reads nothing).
   */
  known?: { version: number; wakeMark: WakeMark };
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
  let known = opts.known;
  // Set while a wake's answer is owed (answersDelivered): paid when this poll answers or sleeps.
  let owed: (() => void) | undefined;
  // The highest committed version a wake announced (NOTIFY): no need to read it again.
  let announced: number | undefined;
  try {
    for (;;) {
      // Shutting down or the client left: the store may already be closing.
      if (opts.signal.aborted) return null;
      // Listen before reading: a change committed while the read is in flight (its wake may be
      // handled before the read's answer) cuts the sleep short instead of waiting for the recheck.
      // A plain promise, not an aborted timer: 10,000 polls woken at once would each build an
      // AbortError otherwise.
      let woken = false;
      let wake!: () => void;
      const wakeUp = new Promise<void>((resolve) => (wake = resolve));
      const off = onWake(agentId, (version) => {
        if (version !== undefined) announced = Math.max(announced ?? version, version);
        if (!woken) owed ??= answerOwed();
        woken = true;
        wake();
      });
      const onAbort = () => {
        woken = true;
        wake();
      };
      opts.signal.addEventListener('abort', onAbort, { once: true });
      let timer: NodeJS.Timeout | undefined;
      try {
        let version: number;
        if (known && sameWakes(agentId, known.wakeMark)) version = known.version;
        else if (announced !== undefined && announced > opts.since) version = announced;
        else {
          const agent = await reads.version(agentId);
          if (!agent || agent.revoked_at) throw unauthorized('this agent was revoked by an administrator');
          version = Number(agent.desired_version);
        }
        known = undefined;
        if (version > opts.since) {
          const found = await reads.state(agentId);
          if (!found || found.agent.revoked_at) throw unauthorized('this agent was revoked by an administrator');
          return found.state;
        }
        const left = deadline - Date.now();
        if (left <= 0 || opts.signal.aborted) return null;
        owed?.();
        owed = undefined;
        if (!woken) {
          timer = setTimeout(wake, Math.min(left, opts.recheckMs?.() ?? 1_000));
          await wakeUp;
        }
      } finally {
        clearTimeout(timer);
        off();
        opts.signal.removeEventListener('abort', onAbort);
      }
    }
  } finally {
    owed?.();
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
  // Before the health is stored: a heartbeat claiming an unserved version is refused whole.
  refuseUnserved(agent, hb.health.appliedVersion);
  await db.updateTable('agents').set({ agent_version: hb.version, health: JSON.stringify(hb.health) }).where('id', '=', agent.id).execute();
  await noteApplied(db, agent, hb.health.appliedVersion, now);
}
