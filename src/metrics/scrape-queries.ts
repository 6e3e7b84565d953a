/**
 * The database-derived figures of one scrape: one bounded query each, read-only (no row locks,
 * so a scrape never waits for nor blocks a grant or a revocation). Every figure is a fact of the
 * shared database, so any replica answers the same.
 */
import { sql, type Kysely } from 'kysely';
import { finalStates } from '../core/lifecycle.js';
import { isOverdueRevocation } from '../app/overdue-revocations.js';
import type { Database } from '../store/schema.js';

/** An agent counts as connected when it called in this recently (long polls return well within it). */
export const AGENT_CONNECTED_WINDOW_MS = 2 * 60_000;

export interface ScrapeSnapshot {
  grants: { state: string; targetKind: string; count: number }[];
  overdueRevocations: number;
  /** Scheduled work that is due now (waiting or running). */
  schedulerDue: number;
  /** Age of the oldest due item; 0 when nothing is due. */
  schedulerOldestDueSeconds: number;
  outboxPending: number;
  outboxOldestPendingSeconds: number;
  agentsConnected: number;
}

const ageSeconds = (now: Date, at: Date | string | null | undefined) =>
  at ? Math.max(0, (now.getTime() - new Date(at).getTime()) / 1000) : 0;

export async function readScrapeSnapshot(db: Kysely<Database>, now: Date): Promise<ScrapeSnapshot> {
  // Final states are left out: their totals only grow, and the audit log already counts them.
  const grants = await db
    .selectFrom('grants')
    .innerJoin('targets', 'targets.id', 'grants.target_id')
    .select(['grants.state as state', 'targets.kind as kind', (eb) => eb.fn.countAll<string>().as('n')])
    .where('grants.state', 'not in', [...finalStates])
    .groupBy(['grants.state', 'targets.kind'])
    .execute();
  const overdue = await db
    .selectFrom('grants')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where((eb) => isOverdueRevocation(eb, now))
    .executeTakeFirstOrThrow();
  // Walks the due_at index up to now: bounded by the backlog, not by all future work.
  const work = await db
    .selectFrom('scheduled_work')
    .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.min('due_at').as('oldest')])
    .where('due_at', '<=', now)
    .executeTakeFirstOrThrow();
  const outbox = await db
    .selectFrom('notifications')
    .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.min('created_at').as('oldest')])
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  const agents = await db
    .selectFrom('agents')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('revoked_at', 'is', null)
    .where('last_seen_at', '>=', new Date(now.getTime() - AGENT_CONNECTED_WINDOW_MS))
    .executeTakeFirstOrThrow();
  return {
    grants: grants.map((r) => ({ state: r.state, targetKind: r.kind, count: Number(r.n) })),
    overdueRevocations: Number(overdue.n),
    schedulerDue: Number(work.n),
    schedulerOldestDueSeconds: ageSeconds(now, work.oldest as Date | null),
    outboxPending: Number(outbox.n),
    outboxOldestPendingSeconds: ageSeconds(now, outbox.oldest as Date | null),
    agentsConnected: Number(agents.n),
  };
}

/**
 * Runs the snapshot with a deadline. On PostgreSQL the statement timeout also stops the work in
 * the database; on the embedded store (one connection) the queries are index-bounded and the
 * deadline only stops the scrape from waiting.
 */
export async function readScrapeSnapshotWithin(
  db: Kysely<Database>,
  now: Date,
  opts: { timeoutMs: number; statementTimeout: boolean },
): Promise<ScrapeSnapshot> {
  const work = opts.statementTimeout
    ? db.transaction().execute(async (tx) => {
        // A little under the deadline: the database ends the query itself before the scrape gives up.
        await sql`SET LOCAL statement_timeout = ${sql.lit(Math.max(1, Math.floor(opts.timeoutMs * 0.8)))}`.execute(tx);
        // Planned with this scrape's values: a plan made once for any `due_at <= $1` guesses a
        // third of the queue and reads it whole, where now's value says a few index entries. A
        // scrape every few seconds can afford to plan.
        await sql`SET LOCAL plan_cache_mode = force_custom_plan`.execute(tx);
        return readScrapeSnapshot(tx, now);
      })
    : readScrapeSnapshot(db, now);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`metrics queries took longer than ${opts.timeoutMs} ms`)), opts.timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}
