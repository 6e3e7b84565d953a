/**
 * A store for @fastify/rate-limit that keeps its counters in the database, so every server
 * process sharing it enforces one limit: ten sign-in attempts a minute stay ten behind a load
 * balancer, not ten per process. One upsert per limited request (fixed window per key); keys
 * are prefixed with the route, so two routes never share a counter. Windows follow the real
 * time, not the business clock: a rate limit is a transport matter.
 */
import { sql, type Kysely } from 'kysely';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Database } from '../store/schema.js';

type Callback = (err: Error | null, result?: { current: number; ttl: number }) => void;

/** Expired counters are swept at most this often (by whichever process gets there). */
const SWEEP_EVERY_MS = 60_000;

export function databaseRateLimitStore(db: Kysely<Database>, now: () => number = Date.now): FastifyRateLimitStoreCtor {
  let lastSweep = 0;

  async function incr(key: string, timeWindow: number): Promise<{ current: number; ttl: number }> {
    const t = now();
    const at = new Date(t);
    const fresh = new Date(t + timeWindow);
    const row = await db
      .insertInto('rate_limits')
      .values({ key, count: 1, reset_at: fresh })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          count: sql<number>`CASE WHEN rate_limits.reset_at <= ${at} THEN 1 ELSE rate_limits.count + 1 END`,
          reset_at: sql<Date>`CASE WHEN rate_limits.reset_at <= ${at} THEN ${fresh} ELSE rate_limits.reset_at END`,
        }),
      )
      .returning(['count', 'reset_at'])
      .executeTakeFirstOrThrow();
    if (t - lastSweep > SWEEP_EVERY_MS) {
      lastSweep = t;
      await db.deleteFrom('rate_limits').where('reset_at', '<', at).execute();
    }
    return { current: Number(row.count), ttl: Math.max(0, new Date(row.reset_at).getTime() - t) };
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
