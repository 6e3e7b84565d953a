/**
 * `timebox sessions watch <id>`: a session's output in this terminal, read-only — what the
 * recording holds so far, then the output as it happens (the live view's server-sent events).
 * Output is written as the bytes the person's terminal received; how the session ended goes to
 * stderr. A lost stream (or `resync`) is opened again; the stream replays the recording from its
 * first event, and events already written (by their gap-free `seq`) are skipped.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { endpoints } from '../../api/endpoints.js';
import { pathOf } from '../../api/endpoint.js';
import { apiEventStream } from '../api-client.js';
import type { Ctx } from '../context.js';
import { sseEvents } from '../event-stream.js';
import { CliError, ExitCode } from '../exit-codes.js';

export type WatchOutcome = { kind: 'ended'; endReason: string | null } | { kind: 'stopped' };

const MAX_FAILURES = 8;
const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

const lost = (ctx: Ctx) => new CliError(`lost the connection to ${ctx.conn.server} while watching`, ExitCode.unreachable);

/** Follows the session until it ends or `signal` is aborted (Ctrl-C). */
export async function watchSession(ctx: Ctx, sessionId: string, out: Writable, signal: AbortSignal): Promise<WatchOutcome> {
  const live = pathOf(endpoints.watchGatewaySession.path, { tenant: await ctx.tenant(), id: sessionId });
  let written = 0; // the last event (seq) written
  let failures = 0;
  while (!signal.aborted) {
    const stream = new AbortController();
    const stop = () => stream.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      const res = await apiEventStream(ctx.conn, live, stream.signal);
      for await (const e of sseEvents(res.body ?? new ReadableStream())) {
        failures = 0;
        if (e.event === 'out') {
          const o = JSON.parse(e.data) as { seq: number; data: string };
          if (o.seq <= written) continue;
          written = o.seq;
          if (!out.write(Buffer.from(o.data, 'utf8'))) await once(out, 'drain');
        } else if (e.event === 'resize') {
          written = Math.max(written, (JSON.parse(e.data) as { seq: number }).seq);
        } else if (e.event === 'end') {
          return { kind: 'ended', endReason: (JSON.parse(e.data) as { endReason: string | null }).endReason };
        } else if (e.event === 'resync') {
          break; // events were lost on the way: open it again
        }
      }
    } catch (err) {
      if (signal.aborted) break;
      // A refusal (not found, not allowed, signed out) will not go away by retrying.
      if (err instanceof CliError && err.exitCode !== ExitCode.unreachable) throw err;
      if (failures >= MAX_FAILURES) throw err instanceof CliError ? err : lost(ctx);
    } finally {
      signal.removeEventListener('abort', stop);
      stream.abort();
    }
    // Closed without its end (a server restarting, events lost): open it again, a little later each time.
    if (++failures > MAX_FAILURES) throw lost(ctx);
    await pause(Math.min(10_000, 250 * 2 ** failures), signal);
  }
  return { kind: 'stopped' };
}
