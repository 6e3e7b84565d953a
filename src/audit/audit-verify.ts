/**
 * `audit verify` against the database: every sealed event of every chain (or one tenant's),
 * checked link by link and against the signed checkpoints found in the database and in every
 * readable witness (see chain-check.ts for what each problem means).
 */
import type { KeyObject } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { rowToRecord } from './audit-log.js';
import { createChainChecker, type ChainCheckResult } from './chain-check.js';
import type { SignedCheckpoint } from './checkpoints.js';
import { readLogId } from './log-id.js';
import { chainOf } from './seal-plan.js';
import type { AuditWitness } from './witness.js';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const chainExpr = sql`coalesce(tenant_id, ${sql.lit(ZERO_UUID)}::uuid)`;

export interface VerifyOptions {
  /** Rows read per query: memory stays bounded whatever the size of the log. */
  batchSize?: number;
  /** Stop collecting problems after this many (a wholesale rewrite would list every row). */
  maxProblems?: number;
  /** Only this tenant's chain. */
  tenantId?: string;
}

export interface VerifyResult extends ChainCheckResult {
  logId: string;
  /** Events written but not sealed yet: not covered by the check. */
  unsealed: number;
  /** Witness lines that are not checkpoints (e.g. torn by a crash mid-write). */
  unreadableWitnessLines: number;
}

export interface AuditTrust {
  /** Public keys whose checkpoints count, by key id. */
  trustedKeys: ReadonlyMap<string, KeyObject>;
  witnesses: readonly AuditWitness[];
}

export async function verifyAuditLog(db: Kysely<Database>, trust: AuditTrust, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 5000));
  const logId = await readLogId(db);
  const { checkpoints, unreadable } = await gatherCheckpoints(db, trust.witnesses, opts.tenantId);
  const checker = createChainChecker({
    logId,
    trustedKeys: trust.trustedKeys,
    checkpoints,
    onlyChains: opts.tenantId ? new Set([chainOf(opts.tenantId)]) : undefined,
    maxProblems: opts.maxProblems,
  });
  let after: { k: string; pos: string } | null = null;
  for (;;) {
    let q = db
      .selectFrom('audit_events')
      .selectAll()
      .select(sql<string>`${chainExpr}::text`.as('chain_key'))
      .where('chain_pos', 'is not', null);
    if (opts.tenantId) q = q.where('tenant_id', '=', opts.tenantId);
    if (after) q = q.where(sql<boolean>`(${chainExpr}, chain_pos) > (${after.k}::uuid, ${after.pos}::bigint)`);
    const rows = await q.orderBy(sql`${chainExpr}`).orderBy('chain_pos').limit(batchSize).execute();
    for (const row of rows) checker.feed(rowToRecord(row));
    if (rows.length < batchSize) break;
    const last = rows[rows.length - 1]!;
    after = { k: last.chain_key, pos: String(last.chain_pos) };
  }
  let unsealedQ = db.selectFrom('audit_events').select((eb) => eb.fn.countAll<string>().as('n')).where('hash', 'is', null);
  if (opts.tenantId) unsealedQ = unsealedQ.where('tenant_id', '=', opts.tenantId);
  const unsealed = Number((await unsealedQ.executeTakeFirstOrThrow()).n);
  return { ...checker.finish(), logId, unsealed, unreadableWitnessLines: unreadable };
}

/** Checkpoints stored in the database and in every witness that can be read back. */
export async function gatherCheckpoints(
  db: Kysely<Database>,
  witnesses: readonly AuditWitness[],
  tenantId?: string,
): Promise<{ checkpoints: (SignedCheckpoint & { source: string })[]; unreadable: number }> {
  const stored = await listStoredCheckpoints(db, tenantId);
  const out: (SignedCheckpoint & { source: string })[] = stored.map((c) => ({ ...c, source: 'the database' }));
  let unreadable = 0;
  for (const w of witnesses) {
    if (!w.read) continue;
    const read = await w.read();
    unreadable += read.unreadable;
    for (const c of read.checkpoints) {
      if (tenantId === undefined || c.tenant_id === tenantId) out.push({ ...c, source: w.name });
    }
  }
  return { checkpoints: out, unreadable };
}

/** The database's checkpoints, oldest first, as signed (for exports and verification). */
export async function listStoredCheckpoints(db: Kysely<Database>, tenantId?: string): Promise<SignedCheckpoint[]> {
  let q = db.selectFrom('audit_checkpoints').selectAll();
  if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
  const rows = await q.orderBy('id').execute();
  return rows.map((r) => ({
    log_id: r.log_id,
    tenant_id: r.tenant_id,
    position: String(r.chain_pos),
    hash: r.hash,
    at: r.at.toISOString(),
    key_id: r.key_id,
    signature: r.signature,
  }));
}
