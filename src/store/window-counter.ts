/**
 * Fixed-window counters in the `rate_limits` table, shared by every process on the database:
 * the HTTP rate limits and the lockout after wrong MFA codes. One upsert counts and reads.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Adds one to `key` (a new window when the last one is over); returns the count and the window's end. */
export async function countInWindow(db: Db, key: string, windowMs: number, now: Date): Promise<{ count: number; resetAt: Date }> {
  const fresh = new Date(now.getTime() + windowMs);
  const row = await db
    .insertInto('rate_limits')
    .values({ key, count: 1, reset_at: fresh })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        count: sql<number>`CASE WHEN rate_limits.reset_at <= ${now} THEN 1 ELSE rate_limits.count + 1 END`,
        reset_at: sql<Date>`CASE WHEN rate_limits.reset_at <= ${now} THEN ${fresh} ELSE rate_limits.reset_at END`,
      }),
    )
    .returning(['count', 'reset_at'])
    .executeTakeFirstOrThrow();
  return { count: Number(row.count), resetAt: new Date(row.reset_at) };
}

/** The count of `key` in its current window (0 when none or over). */
export async function countSoFar(db: Db, key: string, now: Date): Promise<{ count: number; resetAt: Date | null }> {
  const row = await db.selectFrom('rate_limits').select(['count', 'reset_at']).where('key', '=', key).where('reset_at', '>', now).executeTakeFirst();
  return row ? { count: Number(row.count), resetAt: new Date(row.reset_at) } : { count: 0, resetAt: null };
}

export async function resetCount(db: Db, key: string): Promise<void> {
  await db.deleteFrom('rate_limits').where('key', '=', key).execute();
}

/** Drops windows that are over (called now and then; any process may). */
export async function sweepCounts(db: Db, now: Date): Promise<void> {
  await db.deleteFrom('rate_limits').where('reset_at', '<', now).execute();
}
