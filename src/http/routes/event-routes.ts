/**
 * Live updates for the dashboard as server-sent events. Each connection polls its tenant's grants
 * once a second (`updated_at` newer than the last one seen, only grants the caller may see) and
 * sends a `grant` event per change; a comment line keeps proxies from closing an idle stream.
 * The stream ends when the client goes away, the session ends, or the server shuts down.
 */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import type { Kysely } from 'kysely';
import { AppError } from '../../core/errors.js';
import { can } from '../../core/roles.js';
import type { Database } from '../../store/schema.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';
import { openEventStream } from '../event-stream.js';

export interface EventRouteDeps {
  db: Kysely<Database>;
  /** How often each stream looks for changed grants (default 1 s). */
  pollMs?: number;
  /** How often an idle stream sends a comment line (default 15 s). */
  heartbeatMs?: number;
}

/** The `data` of a `grant` event; `now` is the server's time, for countdowns. */
export interface GrantEvent {
  id: string;
  state: string;
  expiresAt: string | null;
  lastError: string | null;
  now: string;
}

const MAX_ROWS_PER_POLL = 200;

let openStreams = 0;
/** Streams open in this process (for monitoring, and for tests that check disconnects clean up). */
export const openEventStreamCount = (): number => openStreams;

export const eventRoutes =
  (deps: EventRouteDeps): RouteModule =>
  (app) => {
    const pollMs = deps.pollMs ?? 1000;
    const heartbeatMs = deps.heartbeatMs ?? 15_000;
    const open = new Set<() => void>();
    // Open streams would keep server.close() waiting for ever: end them first.
    app.addHook('preClose', async () => {
      for (const end of [...open]) end();
    });

    app.route({
      ...routeOf(endpoints.events),
      handler: async (request, reply) => {
        const slug = request.params.tenant;
        let access = await requireTenant(request, slug);
        const principal = principalOf(request);
        const { db, clock } = request.server.deps;

        const visibleGrants = () => {
          let q = db.selectFrom('grants').where('tenant_id', '=', access.tenantId);
          if (!can(access.roles, 'grants.read_all')) q = q.where('operator_id', '=', principal.operatorId);
          return q;
        };
        const newest = await visibleGrants().select((eb) => eb.fn.max('updated_at').as('at')).executeTakeFirst();
        // Changes are read as "updated_at >= last"; rows already sent at exactly `last` are skipped.
        let last = newest?.at ? new Date(newest.at) : new Date(0);
        let sentAtLast = new Set<string>();

        const res = openEventStream(reply);

        let ended = false;
        let busy = false;
        let timer: ReturnType<typeof setInterval> | undefined;
        let lastWrite = Date.now();
        const write = (chunk: string) => {
          if (ended) return;
          res.write(chunk);
          lastWrite = Date.now();
        };
        const send = (event: string, data: unknown) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

        const end = () => {
          if (ended) return;
          ended = true;
          openStreams--;
          clearInterval(timer);
          open.delete(end);
          res.end();
        };
        openStreams++;
        open.add(end);
        // The response closes when the client goes away (the request's own 'close' fires earlier).
        res.on('close', end);
        res.on('error', end);

        const sessionStillValid = async (): Promise<boolean> => {
          const row = await db
            .selectFrom('api_tokens')
            .select(['revoked_at', 'expires_at'])
            .where('id', '=', principal.tokenId)
            .executeTakeFirst();
          const now = clock.now().getTime();
          return !!row && !row.revoked_at && (!row.expires_at || row.expires_at.getTime() > now);
        };

        const poll = async () => {
          if (!(await sessionStillValid())) {
            send('session', { ended: true });
            end();
            return;
          }
          // Membership and roles are read again: removal or a lost role applies at once.
          access = await requireTenant(request, slug);
          const rows = await visibleGrants()
            .select(['id', 'state', 'expires_at', 'last_error', 'updated_at'])
            .where('updated_at', '>=', last)
            .orderBy('updated_at')
            .orderBy('id')
            .limit(MAX_ROWS_PER_POLL)
            .execute();
          const now = clock.now().toISOString();
          for (const r of rows) {
            const at = r.updated_at.getTime();
            if (at === last.getTime() && sentAtLast.has(r.id)) continue;
            if (at > last.getTime()) {
              last = r.updated_at;
              sentAtLast = new Set();
            }
            sentAtLast.add(r.id);
            const data: GrantEvent = { id: r.id, state: r.state, expiresAt: r.expires_at?.toISOString() ?? null, lastError: r.last_error, now };
            send('grant', data);
          }
          if (Date.now() - lastWrite >= heartbeatMs) write(': heartbeat\n\n');
        };

        timer = setInterval(() => {
          if (busy || ended) return;
          busy = true;
          poll()
            .catch((err: unknown) => {
              if (!(err instanceof AppError)) request.log.warn({ err }, 'event stream: poll failed; closing the stream (the client reconnects)');
              end();
            })
            .finally(() => {
              busy = false;
            });
        }, pollMs);

        write('retry: 3000\n\n');
        send('hello', { now: clock.now().toISOString() });
      },
    });
  };
