/**
 * The sealer: one per deployment (a run lease), it links committed events into their chains in
 * batches and signs checkpoints of the chain heads. Appenders never wait for it.
 *
 * A batch is one transaction: it takes only events of transactions older than the oldest one
 * still running (`xid < pg_snapshot_xmin(pg_current_snapshot())`), orders them by (xid, seq)
 * (seal-plan.ts), and fills in position, prev_hash and hash of rows still unsealed. A crash
 * mid-batch rolls the batch back; the unique (chain, position) index and `hash IS NULL` make a
 * second seal of an event or a position impossible even if two sealers ever overlapped.
 */
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { runLease } from '../app/run-lease.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../store/schema.js';
import type { AuditContent } from './audit-log.js';
import { signCheckpoint, type SignedCheckpoint } from './checkpoints.js';
import { chainOf, planSeal, type ChainHead, type UnsealedEvent } from './seal-plan.js';
import type { AuditWitness } from './witness.js';
import { readLogId } from './log-id.js';

/** Held only by sealers, inside their batch transaction: never by a request. */
const SEAL_LOCK_KEY = '8315921000466915090';
const ACQUIRE_EVERY_MS = 5_000;
/** Stands for the platform chain (tenant_id null) in SQL; the same expression as the unique index. */
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const chainExpr = sql`coalesce(tenant_id, ${sql.lit(ZERO_UUID)}::uuid)`;
const toSqlChain = (chain: string) => (chain === '' ? ZERO_UUID : chain);
const fromSqlChain = (k: string) => (k === ZERO_UUID ? '' : k);

export interface AuditSealerDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  workerId: string;
  signer: { privateKey: import('node:crypto').KeyObject; keyId: string };
  witnesses: readonly AuditWitness[];
  /** Events per batch transaction. */
  batchSize?: number;
  /** How often the sealer looks for committed events. */
  pollMs?: number;
  /** A checkpoint after this many sealed events... */
  checkpointEvery?: number;
  /** ...or this long after the first event sealed since the last one. */
  checkpointMs?: number;
  /**
   * How often every chain is checked against what was signed, moved or not: a history rewritten
   * in a tenant that is quiet is found without waiting for its next event.
   */
  recheckMs?: number;
}

export interface SealStats {
  sealed: number;
  checkpoints: number;
  /** Event time to sealed, over the last 1,024 sealed events. */
  lagMs: { last: number | null; p50: number | null; p99: number | null; max: number | null };
}

export interface AuditSealer {
  start(): void;
  stop(): Promise<void>;
  /** Seals everything sealable now and signs due (or, with `checkpoint`, all pending) checkpoints. */
  sealNow(opts?: { checkpoint?: boolean }): Promise<{ sealed: number; checkpoints: number }>;
  stats(): SealStats;
}

/** A stored event as the sealer reads it: its content, insertion id and writing transaction. */
interface RawEvent extends Omit<AuditContent, 'at'> {
  seq: string;
  xid: string;
  at: Date;
}

export function createAuditSealer(deps: AuditSealerDeps): AuditSealer {
  const batchSize = deps.batchSize ?? 500;
  const pollMs = deps.pollMs ?? 250;
  const checkpointEvery = deps.checkpointEvery ?? 1000;
  const checkpointMs = deps.checkpointMs ?? 60_000;
  const recheckMs = deps.recheckMs ?? 600_000;
  let lastRecheck = Date.now();
  const lease = runLease(deps, 'audit.sealer', { onePerProcess: true });
  const lags: number[] = [];
  const totals = { sealed: 0, checkpoints: 0 };
  let lastLag: number | null = null;
  // Chains sealed since their last checkpoint; null = all (at start: a crash may have come between).
  let dirty: Set<string> | null = null;
  let sinceCheckpoint = 0;
  let firstUncheckpointedAt: number | null = null;
  let running = false;
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<unknown> = Promise.resolve();
  let holding = false;
  let logId: string | null = null;
  const lastSigned = new Map<string, { position: string; hash: string }>();
  // One pass at a time in this process (the loop and sealNow callers share it).
  let chainTail: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chainTail.then(fn, fn);
    chainTail = p.catch(() => {});
    return p;
  };

  async function sealBatch(): Promise<number | null> {
    return deps.db.transaction().execute(async (tx) => {
      const lock = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(${SEAL_LOCK_KEY}::bigint) AS ok`.execute(tx);
      if (!lock.rows[0]?.ok) return null;
      const { rows } = await sql<RawEvent>`
        SELECT seq::text AS seq, xid::text AS xid, id, at, tenant_id, actor_type, actor_id, action,
               subject_type, subject_id, reason, before, after
        FROM audit_events
        WHERE hash IS NULL AND xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY xid, seq
        LIMIT ${batchSize}`.execute(tx);
      if (rows.length === 0) return 0;
      const events: UnsealedEvent[] = rows.map((r) => ({
        seq: r.seq,
        xid: r.xid,
        id: r.id,
        at: new Date(r.at).toISOString(),
        tenant_id: r.tenant_id,
        actor_type: r.actor_type,
        actor_id: r.actor_id,
        action: r.action,
        subject_type: r.subject_type,
        subject_id: r.subject_id,
        reason: r.reason,
        before: r.before ?? null,
        after: r.after ?? null,
      }));
      const chains = [...new Set(events.map((e) => chainOf(e.tenant_id)))];
      const heads = await readHeads(tx, chains);
      const { links } = planSeal(events, heads);
      const now = deps.clock.now();
      const values = sql.join(
        links.map((l) => sql`(${l.seq}::bigint, ${l.position}::bigint, ${l.prev_hash}::text, ${l.hash}::text)`),
      );
      const updated = await sql`
        UPDATE audit_events AS e SET chain_pos = v.pos, prev_hash = v.prev, hash = v.hash, sealed_at = ${now}
        FROM (VALUES ${values}) AS v(seq, pos, prev, hash)
        WHERE e.seq = v.seq AND e.hash IS NULL`.execute(tx);
      if (Number(updated.numAffectedRows ?? 0n) !== links.length) {
        throw new Error(`audit sealing: ${links.length} events planned but ${String(updated.numAffectedRows)} sealed; batch rolled back`);
      }
      for (const e of events) recordLag(now.getTime() - Date.parse(e.at));
      for (const c of chains) dirty?.add(c);
      return links.length;
    });
  }

  async function readHeads(db: Kysely<Database>, chains: string[]): Promise<Map<string, ChainHead>> {
    const keys = sql.join(chains.map((c) => sql`(${toSqlChain(c)}::uuid)`));
    const { rows } = await sql<{ k: string; position: string; hash: string }>`
      SELECT c.k::text AS k, h.chain_pos::text AS position, h.hash
      FROM (VALUES ${keys}) AS c(k)
      CROSS JOIN LATERAL (
        SELECT chain_pos, hash FROM audit_events
        WHERE ${chainExpr} = c.k AND chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1
      ) h`.execute(db);
    return new Map(rows.map((r) => [fromSqlChain(r.k), { position: r.position, hash: r.hash! }]));
  }

  function recordLag(ms: number) {
    lastLag = ms;
    lags.push(ms);
    if (lags.length > 1024) lags.shift();
  }

  /**
   * Signs the heads of chains that moved since their last checkpoint; witnesses first, then the
   * database. With `everyChain`, every chain is checked against what was signed, moved or not.
   */
  async function checkpoint(everyChain = false): Promise<number> {
    logId ??= await readLogId(deps.db);
    if (dirty === null) await rememberWitnessed(logId);
    const heads =
      dirty === null || everyChain
        ? await allHeads()
        : dirty.size === 0
          ? new Map<string, ChainHead>()
          : await readHeads(deps.db, [...dirty]);
    // A chain signed before that has no sealed event left: every event of it was deleted.
    if (dirty === null || everyChain) for (const chain of lastSigned.keys()) if (!heads.has(chain)) heads.set(chain, { position: '0', hash: '' });
    if (heads.size === 0) {
      dirty = new Set();
      return 0;
    }
    const keys = sql.join([...heads.keys()].map((c) => sql`(${toSqlChain(c)}::uuid)`));
    const stored = await sql<{ k: string; position: string; hash: string }>`
      SELECT c.k::text AS k, cp.chain_pos::text AS position, cp.hash
      FROM (VALUES ${keys}) AS c(k)
      CROSS JOIN LATERAL (
        SELECT chain_pos, hash FROM audit_checkpoints
        WHERE ${chainExpr} = c.k AND log_id = ${logId}::uuid ORDER BY chain_pos DESC LIMIT 1
      ) cp`.execute(deps.db);
    // What was signed before, by the database's copy and by this sealer's own memory (which a
    // database administrator cannot delete): the chain must still match both.
    const refs: { chain: string; position: string; hash: string }[] = stored.rows.map((r) => ({ chain: fromSqlChain(r.k), position: r.position, hash: r.hash }));
    for (const chain of heads.keys()) {
      const mine = lastSigned.get(chain);
      if (mine) refs.push({ chain, ...mine });
    }
    const current = await currentHashes(refs);
    const at = new Date(deps.clock.now().getTime()).toISOString();
    const signed: SignedCheckpoint[] = [];
    for (const [chain, head] of heads) {
      const mine = refs.filter((r) => r.chain === chain);
      const broken = mine.find((r) => current.get(`${r.chain}/${r.position}`) !== r.hash);
      if (broken) {
        // Never sign over a history that no longer matches what was signed before.
        deps.log.error({ tenantId: chain || null, position: broken.position }, 'audit chain no longer matches a signed checkpoint; not signing it again');
        if (chain !== '') await raiseTamperAlert(chain, tamperMessage(broken.position));
        continue;
      }
      if (mine.some((r) => BigInt(r.position) >= BigInt(head.position))) continue;
      signed.push(
        signCheckpoint(
          { log_id: logId, tenant_id: chain === '' ? null : chain, position: head.position, hash: head.hash, at, key_id: deps.signer.keyId },
          deps.signer.privateKey,
        ),
      );
    }
    if (signed.length > 0) {
      for (const w of deps.witnesses) {
        try {
          await w.record(signed);
        } catch (err) {
          deps.log.error({ err, witness: w.name }, 'audit witness could not record checkpoints');
        }
      }
      await deps.db
        .insertInto('audit_checkpoints')
        .values(signed.map((c) => ({ log_id: c.log_id, tenant_id: c.tenant_id, chain_pos: c.position, hash: c.hash, at: new Date(c.at), key_id: c.key_id, signature: c.signature })))
        .execute();
    }
    for (const c of signed) lastSigned.set(chainOf(c.tenant_id), { position: c.position, hash: c.hash });
    dirty = new Set();
    sinceCheckpoint = 0;
    firstUncheckpointedAt = null;
    totals.checkpoints += signed.length;
    return signed.length;
  }

  const tamperMessage = (position: string) =>
    `The audit log no longer matches the checkpoint signed at position ${position}: events were changed or deleted in the database. Run audit verify.`;
  const OTHER_LOG_MESSAGE =
    "The audit witness holds checkpoints of this tenant signed with this server's key for another audit log than the database's: its log id was changed or the database replaced, which would hide what was signed before. Run audit verify.";

  /** Tells the tenant's admins (open alerts), once while it stays open. */
  async function raiseTamperAlert(tenantId: string, message: string) {
    await sql`
      INSERT INTO alerts (id, tenant_id, grant_id, severity, message, created_at)
      SELECT gen_random_uuid(), ${tenantId}::uuid, NULL, 'critical', ${message}, ${deps.clock.now()}
      WHERE EXISTS (SELECT 1 FROM tenants WHERE id = ${tenantId}::uuid)
        AND NOT EXISTS (SELECT 1 FROM alerts WHERE tenant_id = ${tenantId}::uuid AND message = ${message} AND resolved_at IS NULL)`.execute(deps.db);
  }

  /** The newest checkpoint per chain in the readable witnesses (once, at the first checkpoint after start). */
  async function rememberWitnessed(log: string) {
    const underOtherLogs = new Set<string>();
    for (const w of deps.witnesses) {
      if (!w.read) continue;
      try {
        for (const c of (await w.read()).checkpoints) {
          if (c.key_id !== deps.signer.keyId) continue;
          if (c.log_id !== log) {
            // Signed with this very key for another log: the database's id is not the one this
            // key signed for (audit verify checks the signatures and says which chains).
            if (c.tenant_id !== null) underOtherLogs.add(c.tenant_id);
            continue;
          }
          const chain = chainOf(c.tenant_id);
          const known = lastSigned.get(chain);
          if (!known || BigInt(known.position) < BigInt(c.position)) lastSigned.set(chain, { position: c.position, hash: c.hash });
        }
      } catch (err) {
        deps.log.warn({ err, witness: w.name }, 'could not read back the audit witness');
      }
    }
    if (underOtherLogs.size > 0) deps.log.error({ tenants: underOtherLogs.size, logId: log }, 'the audit witness holds checkpoints signed with this key for another audit log');
    for (const tenantId of underOtherLogs) await raiseTamperAlert(tenantId, OTHER_LOG_MESSAGE);
  }

  async function currentHashes(refs: readonly { chain: string; position: string }[]): Promise<Map<string, string>> {
    if (refs.length === 0) return new Map();
    const pairs = sql.join(refs.map((r) => sql`(${toSqlChain(r.chain)}::uuid, ${r.position}::bigint)`));
    const { rows } = await sql<{ k: string; position: string; hash: string }>`
      SELECT p.k::text AS k, p.pos::text AS position, e.hash
      FROM (VALUES ${pairs}) AS p(k, pos)
      JOIN audit_events e ON ${sql.raw('coalesce(e.tenant_id, ')}${sql.lit(ZERO_UUID)}::uuid) = p.k AND e.chain_pos = p.pos`.execute(deps.db);
    return new Map(rows.map((r) => [`${fromSqlChain(r.k)}/${r.position}`, r.hash]));
  }

  async function allHeads(): Promise<Map<string, ChainHead>> {
    // Chain by chain through the (chain, position) index, each next chain the least one above the
    // last: a DISTINCT ON over the log would read every event the log holds, at each start.
    const { rows } = await sql<{ k: string; position: string; hash: string }>`
      WITH RECURSIVE chains(k) AS (
        (SELECT ${chainExpr} FROM audit_events WHERE chain_pos IS NOT NULL ORDER BY 1 LIMIT 1)
        UNION ALL
        SELECT (SELECT ${chainExpr} FROM audit_events WHERE chain_pos IS NOT NULL AND ${chainExpr} > c.k ORDER BY 1 LIMIT 1)
        FROM chains c WHERE c.k IS NOT NULL
      )
      SELECT c.k::text AS k, h.chain_pos::text AS position, h.hash
      FROM chains c
      CROSS JOIN LATERAL (
        SELECT chain_pos, hash FROM audit_events
        WHERE ${chainExpr} = c.k AND chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1
      ) h
      WHERE c.k IS NOT NULL`.execute(deps.db);
    return new Map(rows.map((r) => [fromSqlChain(r.k), { position: r.position, hash: r.hash }]));
  }

  async function pass(forceCheckpoint: boolean): Promise<{ sealed: number; checkpoints: number }> {
    let sealed = 0;
    for (;;) {
      const n = await sealBatch();
      if (n === null) return { sealed, checkpoints: 0 }; // another sealer is at work
      sealed += n;
      if (n < batchSize) break;
    }
    if (sealed > 0) {
      totals.sealed += sealed;
      sinceCheckpoint += sealed;
      firstUncheckpointedAt ??= Date.now();
    }
    const recheck = Date.now() - lastRecheck >= recheckMs;
    if (recheck) lastRecheck = Date.now();
    const due =
      forceCheckpoint ||
      dirty === null ||
      recheck ||
      sinceCheckpoint >= checkpointEvery ||
      (firstUncheckpointedAt !== null && Date.now() - firstUncheckpointedAt >= checkpointMs);
    const checkpoints = due ? await checkpoint(recheck) : 0;
    return { sealed, checkpoints };
  }

  let lastTry = 0;
  async function tick() {
    try {
      if (!holding) {
        // Another replica seals: ask for the lease now and then, not at every poll.
        if (Date.now() - lastTry < ACQUIRE_EVERY_MS) return;
        lastTry = Date.now();
      }
      holding = holding ? await lease.keep() : await lease.acquire();
      if (holding) await serial(() => pass(false));
    } catch (err) {
      deps.log.warn({ err }, 'audit sealing failed; retrying');
    }
  }

  function schedule() {
    if (!running) return;
    timer = setTimeout(() => {
      current = tick().finally(schedule);
    }, pollMs);
  }

  return {
    start() {
      if (running) return;
      running = true;
      current = tick().finally(schedule);
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      await current;
      if (holding) await lease.release().catch(() => {});
      holding = false;
    },
    sealNow(opts = {}) {
      return serial(() => pass(opts.checkpoint ?? false));
    },
    stats() {
      const sorted = [...lags].sort((a, b) => a - b);
      const pct = (p: number) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
      return {
        sealed: totals.sealed,
        checkpoints: totals.checkpoints,
        lagMs: { last: lastLag, p50: pct(50), p99: pct(99), max: sorted.length ? sorted[sorted.length - 1]! : null },
      };
    },
  };
}
