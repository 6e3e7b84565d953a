/**
 * A same-second burst: every grant of a batch ends within one second (a mass onboarding's grants
 * all made with the same duration, a scripted import), and the running server must revoke and
 * verify them all. The figure is the time from the start of that second to the last verified
 * revocation ('revoked' is written only after the target's verify found the account disabled),
 * plus how many were still not revoked, or still enabled on the target, when the wait ended.
 *
 * The grants are seeded in bulk and revoked by the server's own scheduler on the real clock,
 * exactly as in the expiry-lag benchmark, with the window shrunk to one second.
 */
import { measureExpiryLag, type ExpiryLagResult } from './expiry-lag.js';

export const BURST_WINDOW_MS = 1_000;

export interface BurstOptions {
  store: 'pglite' | 'postgres';
  databaseUrl?: string;
  dataDir?: string;
  grants: number;
  /** Time to set up and seed before the burst's second starts. */
  leadMs: number;
  /** Give up this long after the second ends. */
  graceMs: number;
}

export interface BurstResult {
  store: string;
  grants: number;
  /** Start of the second to the last verified revocation; NaN when the wait ended first. */
  drainMs: number;
  /** Not revoked (or still enabled on the target) when the wait ended. */
  notRevoked: number;
  /** Verified revocations per second over the drain. */
  perSecond: number;
  /** The slowest plain read (a count) made meanwhile: what the burst does to everything else. */
  slowestReadMs: number;
  /** The longest the server's event loop was blocked meanwhile (an API call waits at least that long). */
  longestStallMs: number;
  /** CPU of the server's process per verified revocation (with PGlite, its database's too). */
  cpuMsPerRevocation: number;
  /** PostgreSQL: committed transactions per revocation, read-only ones and the poll's (one a second) included. */
  commitsPerRevocation: number;
  timedOut: boolean;
  detail: ExpiryLagResult;
}

export async function measureBurst(o: BurstOptions): Promise<BurstResult> {
  const r = await measureExpiryLag({ ...o, windowMs: BURST_WINDOW_MS });
  return {
    store: r.store,
    grants: r.grants,
    drainMs: r.timedOut ? Number.NaN : r.drainMs,
    notRevoked: r.notRevoked,
    perSecond: r.achievedPerSecond,
    slowestReadMs: r.slowestReadMs,
    longestStallMs: r.longestStallMs,
    cpuMsPerRevocation: r.cpuMsPerRevocation,
    commitsPerRevocation: r.commitsPerRevocation,
    timedOut: r.timedOut,
    detail: r,
  };
}
