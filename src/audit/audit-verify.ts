/**
 * Walks the audit chain in seq order and reports every place it is broken.
 *
 * - A row edited in place no longer matches its own hash.
 * - A row edited and re-hashed no longer matches the next row's prev_hash.
 * - A deleted row leaves a gap in seq and a prev_hash that matches nothing.
 * - An inserted or reordered row breaks seq continuity or the prev_hash link.
 * Deleting the newest rows leaves a valid shorter chain: compare `head` with a copy kept
 * elsewhere (e.g. the last verified head hash) to detect truncation.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { GENESIS_HASH, hashRecord, rowToRecord } from './audit-log.js';

export interface VerifyOptions {
  /** Rows read per query: memory stays bounded whatever the size of the log. */
  batchSize?: number;
  /** Stop collecting problems after this many (a wholesale rewrite would list every row). */
  maxProblems?: number;
}

export interface AuditProblem {
  seq: string;
  problem: string;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  problems: AuditProblem[];
  /** True when more problems were found than `maxProblems`. */
  truncated: boolean;
  /** The last row seen: keep its hash somewhere safe to detect later truncation of the log. */
  head: { seq: string; hash: string } | null;
}

export async function verifyAuditChain(db: Kysely<Database>, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 5000));
  const maxProblems = opts.maxProblems ?? 1000;
  const problems: AuditProblem[] = [];
  let truncated = false;
  const report = (seq: string, problem: string) => {
    if (problems.length < maxProblems) problems.push({ seq, problem });
    else truncated = true;
  };

  let checked = 0;
  let prev: { seq: bigint; hash: string } | null = null;
  for (;;) {
    let query = db.selectFrom('audit_events').selectAll().orderBy('seq', 'asc').limit(batchSize);
    if (prev) query = query.where('seq', '>', prev.seq.toString());
    const rows = await query.execute();
    for (const row of rows) {
      const record = rowToRecord(row);
      const seq = BigInt(record.seq);
      const expectedSeq: bigint = prev ? prev.seq + 1n : 1n;
      const expectedPrev: string = prev ? prev.hash : GENESIS_HASH;
      if (seq !== expectedSeq) {
        const missing = seq - 1n === expectedSeq ? `${expectedSeq}` : `${expectedSeq}..${seq - 1n}`;
        report(record.seq, `seq ${missing} missing: row(s) deleted before this one`);
      }
      if (record.prev_hash !== expectedPrev) {
        const what = prev ? `the hash of seq ${prev.seq}` : 'the genesis hash';
        report(record.seq, `prev_hash does not match ${what}: a row before it was deleted, inserted or altered`);
      }
      if (hashRecord(record.prev_hash, record) !== record.hash) {
        report(record.seq, 'content does not match its hash: the row was altered after it was written');
      }
      prev = { seq, hash: record.hash };
      checked++;
    }
    if (rows.length < batchSize) break;
  }
  return {
    ok: problems.length === 0 && !truncated,
    checked,
    problems,
    truncated,
    head: prev ? { seq: prev.seq.toString(), hash: prev.hash } : null,
  };
}
