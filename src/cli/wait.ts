/**
 * `request --wait` and `grants wait`: follow a grant until its request is decided and, when
 * approved, until access is active. Listens to the server's event stream (`grant` events); after
 * each (re)connection the grant is read once, so a change made while not listening is not missed.
 * A broken stream is reopened with growing pauses.
 */
import { endpoints } from '../api/endpoints.js';
import { pathOf } from '../api/endpoint.js';
import type { Grant } from '../api/types.js';
import { apiEventStream } from './api-client.js';
import { sseEvents } from './event-stream.js';
import type { Ctx } from './context.js';
import { CliError, ExitCode } from './exit-codes.js';
import { clean, note } from './output.js';

/** Still on the way to access (a scheduled start later than now is not waited for). */
export function stillPending(g: Grant, now = Date.now()): boolean {
  if (g.state === 'requested' || g.state === 'activating') return true;
  if (g.state !== 'approved') return false;
  return !g.requestedStartAt || new Date(g.requestedStartAt).getTime() <= now;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitForGrant(ctx: Ctx, grantId: string, onChange: (g: Grant) => void): Promise<Grant> {
  const tenant = await ctx.tenant();
  const eventsPath = pathOf(endpoints.events.path, { tenant });
  let lastState: string | undefined;
  const read = async (): Promise<Grant> => {
    const g = await ctx.api.call('getGrant', { params: { tenant, grantId } });
    if (g.state !== lastState) {
      lastState = g.state;
      onChange(g);
    }
    return g;
  };

  let failures = 0;
  for (;;) {
    const stop = new AbortController();
    try {
      const res = await apiEventStream(ctx.conn, eventsPath, stop.signal);
      for await (const e of sseEvents(res.body ?? new ReadableStream())) {
        if (e.event === 'session') throw new CliError('the session ended while waiting; run timebox login, then timebox grants wait ' + grantId, ExitCode.auth);
        if (e.event === 'hello') {
          failures = 0;
          const g = await read();
          if (!stillPending(g)) return g;
        } else if (e.event === 'grant') {
          const changed = JSON.parse(e.data) as { id?: string; state?: string };
          if (changed.id !== grantId || changed.state === lastState) continue;
          const g = await read();
          if (!stillPending(g)) return g;
        }
      }
    } catch (err) {
      // A refusal (signed out, no longer a member) will not go away by retrying.
      if (err instanceof CliError && err.exitCode !== ExitCode.unreachable) throw err;
      if (++failures > 8) throw err instanceof CliError ? err : new CliError(`lost the connection to ${ctx.conn.server} while waiting`, ExitCode.unreachable);
    } finally {
      stop.abort();
    }
    await pause(Math.min(15_000, 500 * 2 ** failures));
  }
}

const progress: Record<string, string> = {
  requested: 'waiting for an approver to approve or deny it',
  approved: 'approved; access starts shortly',
  activating: 'approved; setting up access on the target',
  active: 'access is active',
};

/** Waits, telling the person on stderr what is happening (stdout stays for the result). */
export async function waitWithProgress(ctx: Ctx, grant: Grant): Promise<Grant> {
  note(`timebox: grant ${grant.id} on ${clean(grant.targetName)}: waiting (Ctrl-C stops waiting; the request stays, see timebox grants wait ${grant.id})`);
  return waitForGrant(ctx, grant.id, (g) => note(`timebox: ${progress[g.state] ?? g.state}`));
}
