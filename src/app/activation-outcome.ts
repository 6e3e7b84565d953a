/**
 * The caller of a request (or of the approval that completes one) is answered with the
 * activation's outcome — active, or failed and being cleaned up — never a grant still
 * `activating`. The activation runs inline when this process can claim it; when another
 * process (another replica's timer) holds the claim, or the run was deferred (the account busy
 * with another change, a transient target failure), this waits for the grant row to leave
 * `activating`, taking the work over again whenever it falls due, within a bound.
 */
import type { WorkKind } from '../core/lifecycle.js';

export type RunNow = (grantId: string, kind: WorkKind) => Promise<boolean>;

/** Longer than an activation with its retries; a bound so no request hangs for ever. */
const DEFAULT_WAIT_MS = 30_000;
const POLL_MS = 100;

/**
 * Runs the activation now and answers `read()` once the grant has left `activating` (or the wait
 * is over). `read` is what the caller answers with anyway (the grant as the caller sees it), so
 * the usual case, an activation run inline to its end, costs no read of its own.
 */
export async function awaitActivation<T extends { state: string }>(runNow: RunNow, grantId: string, read: () => Promise<T>, waitMs = DEFAULT_WAIT_MS): Promise<T> {
  // Real time, not the application clock: this bounds how long a caller waits.
  const deadline = Date.now() + waitMs;
  await runNow(grantId, 'activate');
  for (;;) {
    const grant = await read();
    if (grant.state !== 'activating' || Date.now() >= deadline) return grant;
    if (!(await runNow(grantId, 'activate'))) await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
