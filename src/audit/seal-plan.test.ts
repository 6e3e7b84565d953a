import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, hashRecord } from './audit-log.js';
import { compareSealOrder, planSeal, type UnsealedEvent } from './seal-plan.js';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

function ev(seq: number, xid: number, tenant: string | null): UnsealedEvent {
  return {
    seq: String(seq),
    xid: String(xid),
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    at: '2026-03-01T08:00:00.000Z',
    tenant_id: tenant,
    actor_type: 'system',
    actor_id: null,
    action: 'grant.activated',
    subject_type: 'grant',
    subject_id: `g${seq}`,
    reason: null,
    before: null,
    after: { n: seq },
  };
}

describe('seal order', () => {
  it('orders by transaction id, then insertion id, as integers', () => {
    const sorted = [ev(3, 10, A), ev(1, 11, A), ev(2, 10, A), ev(10, 9, A)].sort(compareSealOrder);
    expect(sorted.map((e) => e.seq)).toEqual(['10', '2', '3', '1']);
    // 10 > 9 numerically though '10' < '9' as text
    expect(compareSealOrder({ xid: '10', seq: '1' }, { xid: '9', seq: '2' })).toBe(1);
  });

  it('gives the same positions and hashes whatever order the rows arrive in', () => {
    const events = [ev(1, 100, A), ev(2, 100, B), ev(3, 101, A), ev(4, 99, null), ev(5, 102, A)];
    const one = planSeal(events, new Map());
    const two = planSeal([...events].reverse(), new Map());
    expect(two.links).toEqual(one.links);
    expect(one.links.filter((l) => l.tenant_id === A).map((l) => [l.seq, l.position])).toEqual([['1', '1'], ['3', '2'], ['5', '3']]);
    expect(one.links.find((l) => l.seq === '4')).toMatchObject({ tenant_id: null, position: '1', prev_hash: GENESIS_HASH });
  });

  it('links each tenant chain on its own, continuing from the given heads', () => {
    const first = planSeal([ev(1, 5, A), ev(2, 5, B), ev(3, 6, A)], new Map());
    const second = planSeal([ev(4, 7, A), ev(5, 7, B)], first.heads);
    const a = [...first.links, ...second.links].filter((l) => l.tenant_id === A);
    expect(a.map((l) => l.position)).toEqual(['1', '2', '3']);
    for (let i = 1; i < a.length; i++) expect(a[i]!.prev_hash).toBe(a[i - 1]!.hash);
    const e4 = ev(4, 7, A);
    expect(a[2]!.hash).toBe(hashRecord(a[1]!.hash, { ...e4, position: '3' }));
    expect(second.heads.get(B)).toEqual({ position: '2', hash: second.links[1]!.hash });
  });

  it('a batch sealed in two parts equals the batch sealed at once', () => {
    const events = Array.from({ length: 20 }, (_, i) => ev(i + 1, 50 + (i % 4), i % 3 === 0 ? A : B));
    const sorted = [...events].sort(compareSealOrder);
    const whole = planSeal(events, new Map());
    const part1 = planSeal(sorted.slice(0, 7), new Map());
    const part2 = planSeal(sorted.slice(7), part1.heads);
    expect([...part1.links, ...part2.links]).toEqual(whole.links);
  });
});
