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

    child(routeOptions: { method?: string | string[]; url?: string; path?: string }): DatabaseRateLimitStore {
      const method = Array.isArray(routeOptions.method) ? routeOptions.method.join(',') : (routeOptions.method ?? '');
      const store = new DatabaseRateLimitStore();
      store.prefix = `${method} ${routeOptions.url ?? routeOptions.path ?? ''}|`;
      return store;
    }
  }
  return DatabaseRateLimitStore;
}
