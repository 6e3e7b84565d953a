/**
 * A store for @fastify/rate-limit that keeps its counters in the database (window-counter.ts), so
 * every server process sharing it enforces one limit: ten sign-in attempts a minute stay ten
 * behind a load balancer, not ten per process. One upsert per limited request; keys
 * are prefixed with the route, so two routes never share a counter. Windows follow the real
 * time, not the business clock: a rate limit is a transport matter.
 */
import type { Kysely } from 'kysely';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Database } from '../store/schema.js';
import { countInWindow, sweepCounts } from '../store/window-counter.js';

interface RouteInfo {
  method?: string | string[];
  url?: string;
  path?: string;
}

type Callback = (err: Error | null, result?: { current: number; ttl: number }) => void;

/** Expired counters are swept at most this often (by whichever process gets there). */
const SWEEP_EVERY_MS = 60_000;

export function databaseRateLimitStore(db: Kysely<Database>, now: () => number = Date.now): FastifyRateLimitStoreCtor {
  let lastSweep = 0;

  async function incr(key: string, timeWindow: number): Promise<{ current: number; ttl: number }> {
    const t = now();
    const { count, resetAt } = await countInWindow(db, key, timeWindow, new Date(t));
    if (t - lastSweep > SWEEP_EVERY_MS) {
      lastSweep = t;
      await sweepCounts(db, new Date(t));
    }
    return { current: count, ttl: Math.max(0, resetAt.getTime() - t) };
  }

  /** The shape the plugin instantiates: `new Store(options)`, then `child(routeOptions)` per route. */
  class DatabaseRateLimitStore implements FastifyRateLimitStore {
    prefix = '';

    incr(key: string, cb: Callback, timeWindow: number): void {
      incr(`${this.prefix}${key}`, timeWindow).then(
        (r) => cb(null, r),
        (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
      );
    }

    /**
     * The plugin passes the route's limit settings with the route itself under `routeInfo`. Read
     * from the top level, every route had the prefix " |" and all limited routes shared one
     * counter per address (single sign-on traffic used up the invitation links' budget).
     */
    child(options: RouteInfo & { routeInfo?: RouteInfo }): DatabaseRateLimitStore {
      const route = options.routeInfo ?? options;
      const method = Array.isArray(route.method) ? route.method.join(',') : (route.method ?? '');
      const path = route.url ?? route.path ?? '';
      if (!method || !path) throw new Error('rate limit store: a limited route without its method and path would share a counter');
      const store = new DatabaseRateLimitStore();
      store.prefix = `${method} ${path}|`;
      return store;
    }
  }
  return DatabaseRateLimitStore;
}
