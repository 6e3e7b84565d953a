/**
 * Checks chains and signed checkpoints, whatever they are read from (the database, an export).
 * Feed sealed events ordered by chain, then position; then call finish().
 *
 * - An event edited in place no longer matches its own hash.
 * - An event edited and re-hashed no longer matches the next one's prev_hash.
 * - A deleted or inserted event leaves a gap in positions or a broken link.
 * - A history rewritten with every later hash recomputed is internally consistent, but its hash
 *   at a checkpointed position differs from the signed one.
 * - Events deleted from the end leave a chain shorter than a signed checkpoint.
 */
import type { KeyObject } from 'node:crypto';
import { GENESIS_HASH, hashRecord, type ChainedAuditRecord } from './audit-log.js';
import { checkSignature, type SignedCheckpoint } from './checkpoints.js';
import { chainOf } from './seal-plan.js';

export interface ChainProblem {
  tenant_id: string | null;
  position: string | null;
  problem: string;
}

export interface ChainSummary {
  tenant_id: string | null;
  events: number;
  head: { position: string; hash: string } | null;
  /** The newest signed checkpoint of this chain that the chain matches up to. */
  checkpoint: { position: string; at: string } | null;
}

export interface ChainCheckResult {
  ok: boolean;
  checked: number;
  problems: ChainProblem[];
  truncated: boolean;
  chains: ChainSummary[];
  checkpoints: { trusted: number; otherLogs: number; unknownKey: number };
}

export interface ChainCheckOptions {
  logId: string;
  trustedKeys: ReadonlyMap<string, KeyObject>;
  /** Checkpoints from the database, witnesses or an export; duplicates are fine. */
  checkpoints: readonly (SignedCheckpoint & { source: string })[];
  /** Only these chains are being checked (a tenant's export): checkpoints of others are ignored. */
  onlyChains?: ReadonlySet<string>;
  /** The first event of a chain need not be position 1 (an export starting at a date). */
  partial?: boolean;
  maxProblems?: number;
}

export function createChainChecker(opts: ChainCheckOptions) {
  const maxProblems = opts.maxProblems ?? 1000;
  const problems: ChainProblem[] = [];
  let truncated = false;
  const report = (tenant_id: string | null, position: string | null, problem: string) => {
    if (problems.length < maxProblems) problems.push({ tenant_id, position, problem });
    else truncated = true;
  };

  // chain -> position -> the checkpoint(s) expected there
  const expected = new Map<string, Map<string, SignedCheckpoint>>();
  const counts = { trusted: 0, otherLogs: 0, unknownKey: 0 };
  const otherLogsReported = new Set<string>();
  for (const cp of opts.checkpoints) {
    const chain = chainOf(cp.tenant_id);
    if (opts.onlyChains && !opts.onlyChains.has(chain)) continue;
    if (cp.log_id !== opts.logId) {
      // The log id is read from the database, which is what is being checked: a trusted key's
      // checkpoint of this chain under another id means the id was changed (hiding everything
      // signed before) or the database was replaced. Either way the chain cannot be vouched for.
      const seen = `${chain}/${cp.log_id}`;
      if (checkSignature(cp, opts.trustedKeys) === 'valid' && !otherLogsReported.has(seen)) {
        otherLogsReported.add(seen);
        report(
          cp.tenant_id,
          null,
          `${cp.source} holds checkpoints of this chain signed by a trusted key for audit log ${cp.log_id}, but the database names its log ${opts.logId}: the log id was changed or the database replaced`,
        );
      }
      counts.otherLogs++;
      continue;
    }
    const verdict = checkSignature(cp, opts.trustedKeys);
    if (verdict === 'unknown_key') {
      counts.unknownKey++;
      continue;
    }
    if (verdict === 'invalid') {
      report(cp.tenant_id, cp.position, `checkpoint in ${cp.source} has an invalid signature: forged or altered`);
      continue;
    }
    const byPos = expected.get(chain) ?? new Map<string, SignedCheckpoint>();
    expected.set(chain, byPos);
    const seen = byPos.get(cp.position);
    if (seen && seen.hash !== cp.hash) {
      report(cp.tenant_id, cp.position, 'two signed checkpoints name different hashes for this position');
      continue;
    }
    if (!seen) {
      byPos.set(cp.position, cp);
      counts.trusted++;
    }
  }

  const summaries = new Map<string, ChainSummary>();
  let current: { chain: string; position: bigint; hash: string } | null = null;
  let checked = 0;

  function feed(r: ChainedAuditRecord): void {
    if (r.position === null || r.hash === null || r.prev_hash === null) return;
    const chain = chainOf(r.tenant_id);
    const pos = BigInt(r.position);
    let summary = summaries.get(chain);
    if (!summary) {
      summary = { tenant_id: r.tenant_id, events: 0, head: null, checkpoint: null };
      summaries.set(chain, summary);
    }
    const prev = current && current.chain === chain ? current : null;
    if (prev) {
      if (pos !== prev.position + 1n) {
        const from = prev.position + 1n;
        const gap = pos - 1n === from ? `${from}` : `${from}..${pos - 1n}`;
        report(r.tenant_id, r.position, pos > prev.position ? `position ${gap} missing: event(s) deleted before this one` : 'position out of order or repeated');
      }
      if (r.prev_hash !== prev.hash) {
        report(r.tenant_id, r.position, `prev_hash does not match the hash of position ${prev.position}: an event before it was deleted, inserted or altered`);
      }
    } else if (pos !== 1n && !opts.partial) {
      report(r.tenant_id, r.position, `the chain starts at position ${pos}: position(s) 1..${pos - 1n} missing`);
    } else if (pos === 1n && r.prev_hash !== GENESIS_HASH) {
      report(r.tenant_id, r.position, 'prev_hash of position 1 is not the genesis hash');
    }
    if (hashRecord(r.prev_hash, { ...r, position: r.position }) !== r.hash) {
      report(r.tenant_id, r.position, 'content does not match its hash: the event was altered after it was sealed');
    }
    const cp = expected.get(chain)?.get(r.position);
    if (cp) {
      expected.get(chain)!.delete(r.position);
      if (cp.hash !== r.hash) {
        report(r.tenant_id, r.position, `hash differs from the checkpoint signed at ${cp.at}: history was rewritten`);
      } else {
        summary.checkpoint = { position: cp.position, at: cp.at };
      }
    }
    summary.events++;
    summary.head = { position: r.position, hash: r.hash };
    current = { chain, position: pos, hash: r.hash };
    checked++;
  }

  function finish(): ChainCheckResult {
    for (const [chain, byPos] of expected) {
      for (const cp of byPos.values()) {
        const head = summaries.get(chain)?.head;
        if (opts.partial && head && BigInt(cp.position) < BigInt(head.position)) continue; // before the export's start
        report(
          cp.tenant_id,
          cp.position,
          head && BigInt(head.position) >= BigInt(cp.position)
            ? `position ${cp.position} signed at ${cp.at} is not in the log`
            : `the chain ends at position ${head?.position ?? 0} but position ${cp.position} was signed at ${cp.at}: events were deleted`,
        );
      }
    }
    return { ok: problems.length === 0 && !truncated, checked, problems, truncated, chains: [...summaries.values()], checkpoints: counts };
  }

  return { feed, finish };
}
