/**
 * Ends sessions when their grant does. A timer per session fires at the grant's end (and a
 * notice a minute before); a short poll of the sessions' rows joined to their grants catches what
 * other processes decide — an early revocation, an extension, an admin's kill, the person's
 * sign-ins ended — whichever server
 * replica made it. The poll also marks the sessions as held (seen_at), and closes, as abnormal,
 * sessions of gateways that stopped being seen.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { Database } from '../store/schema.js';
import { gatewayDb } from '../store/schema-gateway.js';
import type { LiveSession } from './gateway-session.js';
import { closeAbandonedSessions, type SessionsDeps } from './gateway-sessions.js';

export interface GrantWatchDeps extends SessionsDeps {
  db: Kysely<Database>;
  clock: Clock;
  log: Logger;
  sessions: () => Map<string, LiveSession>;
  pollMs: number;
  warnSeconds: number;
}

/** A gateway not seen for this long has died; its sessions are closed by the others. */
export const STALE_AFTER_MS = 60_000;
const SEEN_EVERY_MS = 10_000;
const SWEEP_EVERY_MS = 30_000;
/** Sessions ending later than this get their timers from a later poll. */
const HORIZON_MS = 60 * 60_000;

interface Timers {
  endsAt: number;
  warn: NodeJS.Timeout | null;
  end: NodeJS.Timeout | null;
}

export function createGrantWatch(deps: GrantWatchDeps) {
  const timers = new Map<string, Timers>();
  let poller: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  let lastSeen = 0;
  let lastSweep = 0;

  const clear = (id: string) => {
    const t = timers.get(id);
    if (!t) return;
    if (t.warn) clearTimeout(t.warn);
    if (t.end) clearTimeout(t.end);
    timers.delete(id);
  };

  /**
   * Timers are set only for ends within the horizon (setTimeout cannot wait 31 days); the poll
   * arms the others as they come near.
   */
  const arm = (s: LiveSession, endsAt: Date) => {
    clear(s.id);
    const at = endsAt.getTime();
    const left = at - deps.clock.now().getTime();
    if (left > HORIZON_MS) {
      timers.set(s.id, { endsAt: at, warn: null, end: null });
      return;
    }
    const warnIn = left - deps.warnSeconds * 1000;
    const warn =
      left > 0
        ? setTimeout(() => s.notice(`your access ends in ${Math.max(1, Math.round((at - deps.clock.now().getTime()) / 1000))} s (${endsAt.toISOString()}); this session will be closed then`), Math.max(0, warnIn))
        : null;
    const end = setTimeout(() => void s.end('grant_ended', 'your access has ended; session closed'), Math.max(0, left));
    timers.set(s.id, { endsAt: at, warn, end });
  };

  async function poll() {
    const live = deps.sessions();
    const now = deps.clock.now();
    if (live.size > 0) {
      const ids = [...live.keys()];
      const rows = await gatewayDb(deps.db)
        .selectFrom('gateway_sessions as s')
        .innerJoin('grants as g', 'g.id', 's.grant_id')
        .innerJoin('operators as o', 'o.id', 's.operator_id')
        .select(['s.id', 's.kill_requested_at', 's.started_at', 'o.sessions_ended_at', 'g.state', 'g.expires_at'])
        .where('s.id', 'in', ids)
        .execute();
      for (const r of rows) {
        const s = live.get(r.id);
        if (!s) continue;
        if (r.kill_requested_at) void s.end('killed', 'an administrator ended this session');
        // The person's sign-ins were ended (end-sessions, a sign-in reset) after this session began.
        else if (r.sessions_ended_at && r.sessions_ended_at.getTime() >= r.started_at.getTime()) void s.end('signed_out', 'your sign-ins were ended; session closed');
        else if (r.state !== 'active' || !r.expires_at) {
          const ended = !r.expires_at || r.expires_at.getTime() <= now.getTime();
          void s.end(ended ? 'grant_ended' : 'grant_revoked', ended ? 'your access has ended; session closed' : 'your access was revoked; session closed');
        } else {
          const t = timers.get(r.id);
          // Extended (or shortened), or come within the horizon.
          if (t?.endsAt !== r.expires_at.getTime() || (!t.end && r.expires_at.getTime() - now.getTime() <= HORIZON_MS)) arm(s, r.expires_at);
        }
      }
      if (now.getTime() - lastSeen >= SEEN_EVERY_MS) {
        lastSeen = now.getTime();
        await gatewayDb(deps.db).updateTable('gateway_sessions').set({ seen_at: now }).where('id', 'in', ids).where('ended_at', 'is', null).execute();
      }
    }
    if (now.getTime() - lastSweep >= SWEEP_EVERY_MS) {
      lastSweep = now.getTime();
      await closeAbandonedSessions(deps, { staleBefore: new Date(now.getTime() - STALE_AFTER_MS) });
    }
  }

  return {
    track(s: LiveSession, endsAt: Date) {
      arm(s, endsAt);
    },
    forget: clear,
    start() {
      const tick = () => {
        running = poll()
          .catch((err: unknown) => deps.log.warn({ err }, 'gateway grant watch failed; retrying'))
          .finally(() => {
            if (poller) poller = setTimeout(tick, deps.pollMs);
          });
      };
      poller = setTimeout(tick, deps.pollMs);
    },
    async stop() {
      const p = poller;
      poller = null;
      if (p) clearTimeout(p);
      await running;
      for (const id of [...timers.keys()]) clear(id);
    },
  };
}
