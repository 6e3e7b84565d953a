/**
 * Due work stored in the database, never in memory. Claims use FOR UPDATE SKIP LOCKED so any
 * number of server processes can share one PostgreSQL and each item runs in one place at a time;
 * a claim is a lease, so work held by a crashed process is picked up again when it lapses.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { WorkKind } from '../core/lifecycle.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface WorkItem {
  id: string;
  kind: WorkKind;
  grantId: string;
  dueAt: Date;
  attempts: number;
  lockToken: string;
}

/** Inserts or moves the one item of this kind for this grant (one per grant and kind). */
export async function scheduleWork(db: Db, grantId: string, kind: WorkKind, dueAt: Date, now: Date): Promise<void> {
  await db
    .insertInto('scheduled_work')
    .values({ kind, grant_id: grantId, due_at: dueAt, created_at: now })
    .onConflict((oc) =>
      oc.columns(['grant_id', 'kind']).doUpdateSet({ due_at: dueAt, locked_by: null, locked_until: null }),
    )
    .execute();
}

export async function unscheduleWork(db: Db, grantId: string, kind: WorkKind): Promise<void> {
  await db.deleteFrom('scheduled_work').where('grant_id', '=', grantId).where('kind', '=', kind).execute();
}

function toItem(r: ClaimedRow): WorkItem {
  return {
    id: String(r.id),
    kind: r.kind as WorkKind,
    grantId: r.grant_id,
    dueAt: r.due_at,
    attempts: r.attempts,
    lockToken: r.locked_by ?? '',
  };
}

type ClaimedRow = { id: string; kind: string; grant_id: string; due_at: Date; attempts: number; locked_by: string | null };

/** Leases the rows `which` selects (a SELECT of ids ending in FOR UPDATE SKIP LOCKED). */
async function claim(db: Kysely<Database>, opts: { workerId: string; now: Date; leaseMs: number }, which: RawBuilder<unknown>) {
  const leaseUntil = new Date(opts.now.getTime() + opts.leaseMs);
  const result = await sql<ClaimedRow>`
    UPDATE scheduled_work SET locked_by = ${opts.workerId} || ':' || id::text, locked_until = ${leaseUntil},
           attempts = attempts + 1
    WHERE id IN (${which})
    RETURNING id, kind, grant_id, due_at, attempts, locked_by`.execute(db);
  return result.rows.map(toItem);
}

/** Claims up to `limit` due, unleased items for `leaseMs`. */
export function claimDueWork(
  db: Kysely<Database>,
  opts: { workerId: string; now: Date; limit: number; leaseMs: number },
): Promise<WorkItem[]> {
  return claim(db, opts, sql`
      SELECT id FROM scheduled_work
      WHERE due_at <= ${opts.now} AND (locked_until IS NULL OR locked_until < ${opts.now})
      ORDER BY due_at
      LIMIT ${opts.limit}
      FOR UPDATE SKIP LOCKED`);
}

/** Claims the one item of a grant, whatever its due time: used to run work inline for a request. */
export async function claimWorkFor(
  db: Kysely<Database>,
  opts: { workerId: string; grantId: string; kind: WorkKind; now: Date; leaseMs: number },
): Promise<WorkItem | null> {
  const items = await claim(db, opts, sql`
      SELECT id FROM scheduled_work
      WHERE grant_id = ${opts.grantId} AND kind = ${opts.kind} AND due_at <= ${opts.now}
        AND (locked_until IS NULL OR locked_until < ${opts.now})
      FOR UPDATE SKIP LOCKED`);
  return items[0] ?? null;
}

/** Finishes an item if it is still ours (a lapsed lease may have passed it on). */
export async function completeWork(db: Db, item: WorkItem): Promise<void> {
  await db.deleteFrom('scheduled_work').where('id', '=', item.id).where('locked_by', '=', item.lockToken).execute();
}

/** Puts an item back for later (still ours only). */
export async function deferWork(db: Db, item: WorkItem, dueAt: Date, error: string | null): Promise<void> {
  await db
    .updateTable('scheduled_work')
    .set({ due_at: dueAt, locked_by: null, locked_until: null, last_error: error })
    .where('id', '=', item.id)
    .where('locked_by', '=', item.lockToken)
    .execute();
}

/**
 * When the next unleased item falls due, to aim the one timer. Walks the due_at index, so it
 * stays cheap with a million scheduled items; lapsed leases are found by the periodic sweep.
 */
export async function nextDueAt(db: Kysely<Database>, now: Date): Promise<Date | null> {
  const row = await db
    .selectFrom('scheduled_work')
    .select('due_at')
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .orderBy('due_at')
    .limit(1)
    .executeTakeFirst();
  return row?.due_at ?? null;
}

/**
 * On start, a process with a stable worker id takes back what its previous life held: a crash
 * then costs nothing, instead of waiting for the leases to lapse.
 */
export async function releaseLeasesOf(db: Kysely<Database>, workerId: string): Promise<number> {
  const prefix = `${workerId}:`;
  const work = await sql`
    UPDATE scheduled_work SET locked_by = NULL, locked_until = NULL
    WHERE locked_by IS NOT NULL AND left(locked_by, ${prefix.length}) = ${prefix}`.execute(db);
  await sql`
    UPDATE jit_accounts SET lease_owner = NULL, lease_until = NULL
    WHERE lease_owner IS NOT NULL AND left(lease_owner, ${prefix.length}) = ${prefix}`.execute(db);
  return Number(work.numAffectedRows ?? 0);
}
