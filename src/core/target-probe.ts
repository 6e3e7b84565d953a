/**
 * When to look again at a target whose revocations have failed, and what to do when it answers.
 * A revocation that failed often enough waits minutes for its next try (src/core/retry.ts), and a
 * target that was down for long is back well before that: a cheap `check` on a short interval
 * notices the return, and then the target's pending revocations are made due at once, so access
 * is taken away within seconds of the target's return however long it was down.
 *
 * Pure: the caller keeps one state per target (small: per target, not per grant) and does the I/O.
 */

export interface ProbePolicy {
  /** Wait after the first failed probe; doubled per further failure up to `maxMs`. */
  firstMs: number;
  /** Longest wait between probes of a target that is down: bounds how late its return is seen. */
  maxMs: number;
  /** Wait between probes of a target that answers but still has failed revocations. */
  upMs: number;
}

/** Probes at most 15 s apart, so revocations run within ~15 s of a target's return (30 s promised). */
export const defaultProbePolicy: ProbePolicy = { firstMs: 5_000, maxMs: 15_000, upMs: 15_000 };

export interface ProbeState {
  /** What the last probe found. */
  reachable: boolean;
  /** Failed probes in a row. */
  failures: number;
  nextAt: Date;
}

export interface ProbeVerdict {
  state: ProbeState;
  /** Make the target's pending revocations due now: it is back (or seen for the first time). */
  hurry: boolean;
}

/** A target never probed yet is due at once. */
export function probeDue(state: ProbeState | undefined, now: Date): boolean {
  return !state || now >= state.nextAt;
}

/**
 * The next state after a probe. Revocations are hurried when the target answers and was not
 * answering before (or has no history in this process): once per return, so a target that
 * answers `check` but still refuses the revocation itself is not hammered on every probe.
 */
export function afterProbe(
  policy: ProbePolicy,
  prev: ProbeState | undefined,
  reachable: boolean,
  now: Date,
  random: () => number = Math.random,
): ProbeVerdict {
  if (reachable) {
    return {
      state: { reachable: true, failures: 0, nextAt: new Date(now.getTime() + policy.upMs) },
      hurry: !prev || !prev.reachable,
    };
  }
  const failures = (prev && !prev.reachable ? prev.failures : 0) + 1;
  const ceiling = Math.min(policy.maxMs, policy.firstMs * 2 ** (failures - 1));
  // Up to a fifth earlier, never later: spreads probes of many targets, keeps the bound.
  const delay = Math.round(ceiling * (0.8 + 0.2 * random()));
  return { state: { reachable: false, failures, nextAt: new Date(now.getTime() + delay) }, hurry: false };
}

/** Forgets targets that no longer have failed revocations. */
export function keepOnly<T>(states: Map<string, T>, targetIds: Iterable<string>): void {
  const keep = new Set(targetIds);
  for (const id of [...states.keys()]) if (!keep.has(id)) states.delete(id);
}
