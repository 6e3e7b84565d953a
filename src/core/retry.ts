/** Retry policy for target calls: exponential backoff with full jitter, then slow retries forever. */
export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  /** After this many failed attempts a revocation is marked revoke_failed (and alerted). */
  maxAttempts: number;
  /** Once failed, keep trying at this slow pace; never drop a revocation. */
  slowRetryMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  baseMs: 1_000,
  maxMs: 5 * 60_000,
  maxAttempts: 8,
  slowRetryMs: 15 * 60_000,
};

/**
 * Delay before attempt number `attempt + 1` (attempt counts failures so far, starting at 1).
 * `random` is injectable so tests are deterministic.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  if (attempt >= policy.maxAttempts) return policy.slowRetryMs;
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  // Half fixed, half jitter: never zero (no hot loop), still spreads a thundering herd.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
