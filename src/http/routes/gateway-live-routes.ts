/**
 * The dashboard's view of recorded sessions beyond the list: watching one live (server-sent
 * events relayed from the gateway holding it, read-only, audited), and the command lines entered
 * in sessions, per session and searched across the tenant. Admins and auditors of the tenant.
 */
import type { Kysely } from 'kysely';
import { endpoints } from '../../api/endpoints.js';
import type { AuditLog } from '../../audit/types.js';
import { notFound } from '../../core/errors.js';
import { readRecording } from '../../gateway/gateway-sessions.js';
import type { LiveFeed } from '../../gateway/live-feed.js';
import { relaySession } from '../../gateway/live-relay.js';
import type { RecordingStore } from '../../gateway/recording-store.js';
import { listCommands, searchCommands } from '../../gateway/session-commands.js';
import { getSession } from '../../gateway/session-queries.js';
import type { SecretBox } from '../../secrets/types.js';
import type { Database } from '../../store/schema.js';
import { gatewayDb } from '../../store/schema-gateway.js';
import { actorOf, principalOf } from '../auth-hook.js';
import { routeOf } from '../route-of.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';
import { openEventStream } from '../event-stream.js';

export interface GatewayLiveRouteDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  audit: AuditLog;
  recordings: RecordingStore;
  liveFeed: LiveFeed | null;
  /** How often a stream reads the file and the row until the gateway answers (default 1 s). */
  pollMs?: number;
}

const HEARTBEAT_MS = 15_000;

export const gatewayLiveRoutes =
  (deps: GatewayLiveRouteDeps): RouteModule =>
  (app) => {
    const open = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const end of [...open]) end();
    });

    app.route({
      ...routeOf(endpoints.watchGatewaySession),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const s = await getSession(deps.db, t.tenantId, request.params.id);
        if (!s) throw notFound(`session ${request.params.id}`);
        await deps.audit.append(deps.db, {
          tenantId: t.tenantId,
          actor: actorOf(principalOf(request)),
          action: 'gateway.session_watched',
          subject: { type: 'gateway_session', id: s.row.id },
          after: { live: s.view.live, operatorId: s.row.operator_id, targetId: s.row.target_id },
        });

        const res = openEventStream(reply);
        let ended = false;
        let stop: (() => void) | null = null;
        const send = (event: string, data: unknown) => {
          if (!ended) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        };
        const heartbeat = setInterval(() => !ended && res.write(': still here\n\n'), HEARTBEAT_MS);
        const end = () => {
          if (ended) return;
          ended = true;
          clearInterval(heartbeat);
          open.delete(end);
          stop?.();
          res.end();
        };
        open.add(end);
        res.on('close', end);
        res.on('error', end);

        const endReason = async () =>
          (await gatewayDb(deps.db).selectFrom('gateway_sessions').select(['ended_at', 'end_reason']).where('id', '=', s.row.id).executeTakeFirst()) ?? null;
        stop = await relaySession(
          {
            feed: deps.liveFeed,
            readText: async () => (await readRecording(deps, s.row)).plaintext.toString('utf8'),
            hasEnded: async () => !!(await endReason())?.ended_at,
            ...(deps.pollMs ? { pollMs: deps.pollMs } : {}),
          },
          s.row,
          {
            header: (h) => send('header', h),
            event(seq, [t, code, data]) {
              // Keystrokes (when recorded) are never shown: the viewer sees the terminal.
              if (code === 'o') send('out', { seq, t, data });
              else if (code === 'r') {
                const [cols, rows] = data.split('x').map(Number);
                send('resize', { seq, cols, rows });
              }
            },
            ended() {
              void endReason().then(
                (r) => {
                  send('end', { endReason: r?.end_reason ?? null });
                  end();
                },
                () => end(),
              );
            },
            resync() {
              send('resync', {});
              end();
            },
          },
        ).catch((err: unknown) => {
          request.log.warn({ err }, 'live view could not start');
          send('resync', {});
          end();
          return null;
        });
        if (ended) stop?.();
      },
    });

    app.route({
      ...routeOf(endpoints.listGatewaySessionCommands),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const s = await getSession(deps.db, t.tenantId, request.params.id);
        if (!s) throw notFound(`session ${request.params.id}`);
        const items = await listCommands(deps.db, t.tenantId, s.row.id);
        return { items: items.map((c) => ({ ordinal: c.ordinal, offsetMs: c.offsetMs, text: c.text })) };
      },
    });

    app.route({
      ...routeOf(endpoints.searchGatewayCommands),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const hits = await searchCommands(deps.db, t.tenantId, { text: request.query.q, limit: request.query.limit });
        return { items: hits.map((h) => ({ ...h, at: h.at.toISOString() })) };
      },
    });
  };
