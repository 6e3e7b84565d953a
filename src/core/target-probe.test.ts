import { describe, expect, it } from 'vitest';
import { fakeClock } from './clock.js';
import { afterProbe, keepOnly, probeDue, type ProbePolicy, type ProbeState } from './target-probe.js';

const policy: ProbePolicy = { firstMs: 5_000, maxMs: 15_000, upMs: 15_000 };
const top = () => 1; // no jitter: the longest wait

describe('target probe decisions', () => {
  it('probes a target never probed at once', () => {
    expect(probeDue(undefined, new Date())).toBe(true);
  });

  it.each([
    // failures in a row -> wait before the next probe (ms)
    [1, 5_000],
    [2, 10_000],
    [3, 15_000],
    [4, 15_000],
    [40, 15_000],
  ])('after %i failed probe(s) waits %i ms at most', (n, wait) => {
    const clock = fakeClock('2026-03-01T09:00:00Z');
    let state: ProbeState | undefined;
    for (let i = 0; i < n; i++) {
      const v = afterProbe(policy, state, false, clock.now(), top);
      expect(v.hurry).toBe(false);
      state = v.state;
    }
    expect(state!.failures).toBe(n);
    expect(state!.nextAt.getTime() - clock.now().getTime()).toBe(wait);
    clock.advance(wait - 1);
    expect(probeDue(state, clock.now())).toBe(false);
    clock.advance(1);
    expect(probeDue(state, clock.now())).toBe(true);
  });

  it('jitter only ever shortens the wait', () => {
    const now = new Date('2026-03-01T09:00:00Z');
    const v = afterProbe(policy, { reachable: false, failures: 9, nextAt: now }, false, now, () => 0);
    expect(v.state.nextAt.getTime() - now.getTime()).toBe(12_000);
  });

  it.each<[string, ProbeState | undefined, boolean]>([
    ['first sight of an answering target', undefined, true],
    ['a target that was down comes back', { reachable: false, failures: 30, nextAt: new Date(0) }, true],
    ['a target that answered before answers again', { reachable: true, failures: 0, nextAt: new Date(0) }, false],
  ])('%s: hurry its revocations = %s', (_, prev, hurry) => {
    const now = new Date('2026-03-01T10:00:00Z');
    const v = afterProbe(policy, prev, true, now);
    expect(v.hurry).toBe(hurry);
    expect(v.state).toEqual({ reachable: true, failures: 0, nextAt: new Date(now.getTime() + 15_000) });
  });

  it('a target down for an hour is still seen back within the longest wait', () => {
    const clock = fakeClock('2026-03-01T09:00:00Z');
    let state: ProbeState | undefined;
    const backAt = new Date('2026-03-01T10:00:00Z').getTime();
    for (;;) {
      if (!probeDue(state, clock.now())) {
        clock.set(state!.nextAt);
        continue;
      }
      const v = afterProbe(policy, state, clock.now().getTime() >= backAt, clock.now());
      state = v.state;
      if (v.hurry) break;
    }
    expect(clock.now().getTime() - backAt).toBeLessThanOrEqual(policy.maxMs);
  });

  it('forgets targets without failed revocations', () => {
    const m = new Map([['a', 1], ['b', 2]]);
    keepOnly(m, ['b']);
    expect([...m.keys()]).toEqual(['b']);
  });
});
