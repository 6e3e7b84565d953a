import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ChainedAuditRecord } from './audit-log.js';
import { createChainChecker } from './chain-check.js';
import { keyIdOf, signCheckpoint, type SignedCheckpoint } from './checkpoints.js';
import { planSeal, type UnsealedEvent } from './seal-plan.js';

const T = '00000000-0000-4000-8000-0000000000aa';
const LOG = '00000000-0000-4000-8000-0000000000ff';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const keyId = keyIdOf(publicKey);
const trustedKeys = new Map([[keyId, publicKey]]);

function chain(n: number): ChainedAuditRecord[] {
  const events: UnsealedEvent[] = Array.from({ length: n }, (_, i) => ({
    seq: String(i + 1), xid: '10', id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`, at: '2026-03-01T08:00:00.000Z',
    tenant_id: T, actor_type: 'system', actor_id: null, action: 'x.y', subject_type: 'grant', subject_id: null, reason: `r${i + 1}`, before: null, after: null,
  }));
  const { links } = planSeal(events, new Map());
  return events.map((e, i) => ({ ...e, position: links[i]!.position, prev_hash: links[i]!.prev_hash, hash: links[i]!.hash, sealed_at: e.at, sealed: true }));
}
const cp = (r: ChainedAuditRecord, over: Partial<SignedCheckpoint> = {}) => ({
  ...signCheckpoint({ log_id: LOG, tenant_id: T, position: r.position!, hash: r.hash!, at: '2026-03-01T09:00:00.000Z', key_id: keyId }, privateKey),
  source: 'test',
  ...over,
});
function check(records: ChainedAuditRecord[], checkpoints: ReturnType<typeof cp>[]) {
  const c = createChainChecker({ logId: LOG, trustedKeys, checkpoints });
  records.forEach(c.feed);
  return c.finish();
}

describe('chain check', () => {
  it('accepts an intact chain that matches its checkpoints', () => {
    const rs = chain(5);
    const r = check(rs, [cp(rs[2]!), cp(rs[4]!), cp(rs[4]!)]);
    expect(r).toMatchObject({ ok: true, checked: 5, checkpoints: { trusted: 2 } });
    expect(r.chains).toEqual([{ tenant_id: T, events: 5, head: { position: '5', hash: rs[4]!.hash }, checkpoint: { position: '5', at: '2026-03-01T09:00:00.000Z' } }]);
  });

  it('ignores checkpoints of another log or an unknown key, and reports a forged signature', () => {
    const rs = chain(3);
    const other = generateKeyPairSync('ed25519');
    const foreign = { ...signCheckpoint({ log_id: LOG, tenant_id: T, position: '3', hash: 'f'.repeat(64), at: 'x', key_id: keyIdOf(other.publicKey) }, other.privateKey), source: 'db' };
    const r = check(rs, [cp(rs[2]!, { log_id: '00000000-0000-4000-8000-000000000001' }), foreign, cp(rs[1]!, { hash: 'e'.repeat(64) })]);
    expect(r.checkpoints).toEqual({ trusted: 0, otherLogs: 1, unknownKey: 1 });
    expect(r.problems).toEqual([{ tenant_id: T, position: '2', problem: expect.stringMatching(/invalid signature/) }]);
  });

  it("reports a trusted key's checkpoint for another log id: the database's id was changed to hide it", () => {
    const rs = chain(3);
    const OTHER = '00000000-0000-4000-8000-000000000001';
    const signedElsewhere = (r: ChainedAuditRecord) => ({
      ...signCheckpoint({ log_id: OTHER, tenant_id: T, position: r.position!, hash: r.hash!, at: '2026-03-01T09:00:00.000Z', key_id: keyId }, privateKey),
      source: 'file witness.jsonl',
    });
    const r = check(rs, [signedElsewhere(rs[1]!), signedElsewhere(rs[2]!), cp(rs[2]!)]);
    expect(r.ok).toBe(false);
    // Once per chain and log, however many such checkpoints there are.
    expect(r.problems).toEqual([
      { tenant_id: T, position: null, problem: `file witness.jsonl holds checkpoints of this chain signed by a trusted key for audit log ${OTHER}, but the database names its log ${LOG}: the log id was changed or the database replaced` },
    ]);
  });

  it('catches a rewrite with recomputed hashes at the signed position, and a cut after it', () => {
    const rs = chain(6);
    const signed = cp(rs[3]!);
    const forged = chain(6).map((r, i) => (i === 1 ? { ...r, reason: 'changed' } : r));
    // recompute from position 2 on, as an attacker would
    const events = forged.map(({ position: _p, prev_hash: _ph, hash: _h, sealed_at: _s, sealed: _x, ...e }) => ({ ...e, xid: '10' }));
    const { links } = planSeal(events, new Map());
    const rewritten = forged.map((r, i) => ({ ...r, prev_hash: links[i]!.prev_hash, hash: links[i]!.hash }));
    expect(check(rewritten, [signed]).problems).toEqual([{ tenant_id: T, position: '4', problem: expect.stringMatching(/history was rewritten/) }]);
    expect(check(rs.slice(0, 3), [signed]).problems).toEqual([
      { tenant_id: T, position: '4', problem: expect.stringMatching(/chain ends at position 3 but position 4 was signed/) },
    ]);
  });
});
