/**
 * Due work stored in the database, never in memory. Claims use FOR UPDATE SKIP LOCKED so any
 * number of server processes can share one PostgreSQL and each item runs in one place at a time;
 * a claim is a lease, so work held by a crashed process is picked up again when it lapses.
 *
 * Activations and revocations also need their JIT account's lease (one run per account at a time,
 * see src/app/account-lease.ts): the claim takes it in the same statement, and the transaction that
 * completes the work gives both back (`finishWork`), so a run costs no commits of its own for them.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { type Write, writeTogether } from '../store/write-together.js';
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
  /**
   * The JIT account lease taken with the claim (activate and revoke only); null when another run
   * holds that account (the handler defers) or for other kinds.
   */
  accountLease: { accountId: string; token: string } | null;
}

/** Kinds whose run changes the target: they hold the account lease while they run. */
const leasedKinds: readonly WorkKind[] = ['activate', 'revoke'];

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

/**
 * A change's whole effect on a grant's schedule, as writes for `writeTogether` (one statement):
 * the `gone` kinds removed and the `due` kinds (re)scheduled with their claims released, as
 * scheduleWork does each. The kinds differ, so the two never touch the same row.
 */
export function rescheduleWrites(
  db: Db,
  grantId: string,
  due: ReadonlyArray<{ kind: WorkKind; at: Date }>,
  gone: readonly WorkKind[],
  now: Date,
): Write[] {
  const writes: Write[] = [];
  if (gone.length) writes.push(db.deleteFrom('scheduled_work').where('grant_id', '=', grantId).where('kind', 'in', [...gone]));
  if (due.length) {
    const rows = due.map((d) => ({ kind: d.kind, grant_id: grantId, due_at: d.at, created_at: now }));
    writes.push(
      db
        .insertInto('scheduled_work')
        .values(rows)
        .onConflict((oc) => oc.columns(['grant_id', 'kind']).doUpdateSet({ due_at: (eb) => eb.ref('excluded.due_at'), locked_by: null, locked_until: null })),
    );
  }
  return writes;
}

function toItem(r: ClaimedRow): WorkItem {
  return {
    id: String(r.id),
    kind: r.kind as WorkKind,
    grantId: r.grant_id,
    dueAt: r.due_at,
    attempts: r.attempts,
    lockToken: r.locked_by ?? '',
    accountLease: r.account_id && r.lease_owner ? { accountId: r.account_id, token: r.lease_owner } : null,
  };
}

type ClaimedRow = {
  id: string;
  kind: string;
  grant_id: string;
  due_at: Date;
  attempts: number;
  locked_by: string | null;
  account_id: string | null;
  lease_owner: string | null;
};

/**
 * Leases the rows `which` selects (a SELECT of ids ending in FOR UPDATE SKIP LOCKED) and, in the
 * same statement, the JIT account of each activation or revocation whose account is free. The
 * account token is unique per run (`<worker>:<item>:<attempt>`), so two runs never mistake each
 * other's lease, and it starts with the worker id, so a restarted process takes it back at once.
 * Account rows are skipped, never waited for, when another transaction has them locked (it holds
 * or is giving back their lease): a claim waits for no one, so claims of two processes cannot
 * deadlock over accounts, and a request holding the account FOR KEY SHARE does not stop it. Two
 * items of one account in a claim: one gets the lease, the other defers.
 */
async function claim(
  db: Kysely<Database>,
  opts: { workerId: string; now: Date; leaseMs: number },
  which: RawBuilder<unknown>,
  /** A query of one due time (it may read `claimed`), answered beside the claim. */
  next?: RawBuilder<unknown>,
): Promise<{ items: WorkItem[]; nextDueAt: Date | null }> {
  const leaseUntil = new Date(opts.now.getTime() + opts.leaseMs);
  if (!next) {
    const result = await sql<ClaimedRow>`
      WITH ${claimCtes(opts, which, leaseUntil)}
      SELECT c.id, c.kind, c.grant_id, c.due_at, c.attempts, c.locked_by, l.account_id, l.lease_owner
      FROM claimed c LEFT JOIN leased l ON l.work_id = c.id
      ORDER BY c.due_at`.execute(db);
    return { items: result.rows.map(toItem), nextDueAt: null };
  }
  // One row even when nothing was claimed, so the next due time always comes back.
  const result = await sql<{ [K in keyof ClaimedRow]: ClaimedRow[K] | null } & { next_due: Date | null }>`
    WITH ${claimCtes(opts, which, leaseUntil)}, next_item AS (${next})
    SELECT c.id, c.kind, c.grant_id, c.due_at, c.attempts, c.locked_by, l.account_id, l.lease_owner,
           (SELECT due_at FROM next_item) AS next_due
    FROM (SELECT 1) AS one LEFT JOIN (claimed c LEFT JOIN leased l ON l.work_id = c.id) ON true
    ORDER BY c.due_at`.execute(db);
  const claimed = result.rows.filter((r): r is ClaimedRow & { next_due: Date | null } => r.id !== null);
  return { items: claimed.map(toItem), nextDueAt: result.rows[0]?.next_due ?? null };
}

function claimCtes(opts: { workerId: string; now: Date }, which: RawBuilder<unknown>, leaseUntil: Date): RawBuilder<unknown> {
  return sql`
    claimed AS (
      UPDATE scheduled_work SET locked_by = ${opts.workerId} || ':' || id::text, locked_until = ${leaseUntil},
             attempts = attempts + 1
      -- = ANY(ARRAY(...)), not IN (...): a generic plan guesses the LIMIT inside at a tenth of the
      -- table and would join by reading all of it; an array is looked up by primary key.
      WHERE id = ANY(ARRAY(${which}))
      RETURNING id, kind, grant_id, due_at, attempts, locked_by
    ), free AS (
      SELECT j.id AS account_id, c.id AS work_id, c.locked_by || ':' || c.attempts::text AS token
      FROM claimed c JOIN grants g ON g.id = c.grant_id JOIN jit_accounts j ON j.id = g.jit_account_id
      WHERE c.kind IN (${sql.join(leasedKinds.map((k) => sql`${k}`))})
        AND (j.lease_owner IS NULL OR j.lease_until < ${opts.now})
      FOR NO KEY UPDATE OF j SKIP LOCKED
    ), leased AS (
      UPDATE jit_accounts a SET lease_owner = f.token, lease_until = ${leaseUntil}
      FROM free f WHERE a.id = f.account_id
      RETURNING a.id AS account_id, f.work_id, a.lease_owner
    )`;
}

const dueItems = (opts: { now: Date; limit: number }) => sql`
      SELECT id FROM scheduled_work
      WHERE due_at <= ${opts.now} AND (locked_until IS NULL OR locked_until < ${opts.now})
      ORDER BY due_at
      LIMIT ${opts.limit}
      FOR UPDATE SKIP LOCKED`;

/** Claims up to `limit` due, unleased items for `leaseMs`. */
export async function claimDueWork(
  db: Kysely<Database>,
  opts: { workerId: string; now: Date; limit: number; leaseMs: number },
): Promise<WorkItem[]> {
  return (await claim(db, opts, dueItems(opts))).items;
}

/**
 * As `claimDueWork`, and in the same statement when the next unleased item left falls due (what
 * `nextDueAt` would answer after the claim), so the scheduler aims its timer without asking again.
 */
export function claimDueWorkAndNext(
  db: Kysely<Database>,
  opts: { workerId: string; now: Date; limit: number; leaseMs: number },
): Promise<{ items: WorkItem[]; nextDueAt: Date | null }> {
  // The claim's own updates are not visible within its statement: its rows are left out by id.
  return claim(db, opts, dueItems(opts), sql`
      SELECT w.due_at FROM scheduled_work w
      WHERE (w.locked_until IS NULL OR w.locked_until < ${opts.now}) AND NOT EXISTS (SELECT 1 FROM claimed c WHERE c.id = w.id)
      ORDER BY w.due_at
      LIMIT 1`);
}

/** Claims the one item of a grant, whatever its due time: used to run work inline for a request. */
export async function claimWorkFor(
  db: Kysely<Database>,
  opts: { workerId: string; grantId: string; kind: WorkKind; now: Date; leaseMs: number },
): Promise<WorkItem | null> {
  const { items } = await claim(db, opts, sql`
      SELECT id FROM scheduled_work
      WHERE grant_id = ${opts.grantId} AND kind = ${opts.kind} AND due_at <= ${opts.now}
        AND (locked_until IS NULL OR locked_until < ${opts.now})
      FOR UPDATE SKIP LOCKED`);
  return items[0] ?? null;
}

/** Gives back the account lease taken with the claim, in the same statement as `work`. */
function releasingLease(item: WorkItem, work: RawBuilder<unknown>): RawBuilder<unknown> {
  const lease = item.accountLease;
  if (!lease) return work;
  return sql`
    WITH work AS (${work})
    UPDATE jit_accounts SET lease_owner = NULL, lease_until = NULL
    WHERE id = ${lease.accountId} AND lease_owner = ${lease.token}`;
}

/** What a completing run writes on the item's JIT account (its status, once the target agrees). */
export interface AccountUpdate {
  accountId: string;
  status: 'enabled' | 'disabled';
  at: Date;
  /** The grant that last enabled the account (an activation). */
  lastGrantId?: string;
}

/**
 * Finishes an item if it is still ours (a lapsed lease may have passed it on, and a transition
 * that rescheduled it cleared our claim) and gives back its account lease: one statement, so a
 * handler calls it inside the transaction that completes its work (see `WorkOutcome.recorded`).
 * `account` is written in the same statement when it is the leased account (always, whoever
 * holds the lease now: the change is this run's result, the lease only who may act next).
 */
export async function finishWork(
  db: Db,
  item: WorkItem,
  account?: AccountUpdate,
  /** Other items of the grant the same change ends (a revocation ends its expiry warning), deleted in the same statement. */
  unschedule?: { grantId: string; kinds: readonly WorkKind[] },
): Promise<void> {
  await writeTogether(db, finishWrites(db, item, account, unschedule));
}

/**
 * `finishWork`'s writes, not run (for `writeTogether`): the item (and the unscheduled kinds)
 * deleted if still ours, the lease given back, the account's new status.
 */
export function finishWrites(
  db: Db,
  item: WorkItem,
  account?: AccountUpdate,
  unschedule?: { grantId: string; kinds: readonly WorkKind[] },
): Write[] {
  const done = unschedule?.kinds.length
    ? sql`DELETE FROM scheduled_work WHERE (id = ${item.id} AND locked_by = ${item.lockToken})
            OR (grant_id = ${unschedule.grantId} AND kind IN (${sql.join([...unschedule.kinds])}))`
    : sql`DELETE FROM scheduled_work WHERE id = ${item.id} AND locked_by = ${item.lockToken}`;
  const lease = item.accountLease;
  if (!account || !lease || lease.accountId !== account.accountId) {
    const released = lease
      ? [sql`UPDATE jit_accounts SET lease_owner = NULL, lease_until = NULL WHERE id = ${lease.accountId} AND lease_owner = ${lease.token}`]
      : [];
    return [done, ...released, ...(account ? [updateAccount(db, account)] : [])];
  }
  const lastGrant = account.lastGrantId === undefined ? sql.raw('') : sql`, last_grant_id = ${account.lastGrantId}`;
  return [
    done,
    sql`UPDATE jit_accounts SET status = ${account.status}, updated_at = ${account.at}${lastGrant},
      lease_owner = CASE WHEN lease_owner = ${lease.token} THEN NULL ELSE lease_owner END,
      lease_until = CASE WHEN lease_owner = ${lease.token} THEN NULL ELSE lease_until END
    WHERE id = ${account.accountId}`,
  ];
}

function updateAccount(db: Db, account: AccountUpdate): Write {
  return db
    .updateTable('jit_accounts')
    .set({ status: account.status, updated_at: account.at, ...(account.lastGrantId === undefined ? {} : { last_grant_id: account.lastGrantId }) })
    .where('id', '=', account.accountId);
}

/**
 * `finishWork`'s writes for several items at once (a batch of revocations), for `writeTogether`:
 * every item still ours and the other items their changes end are deleted, and each leased account
 * is given back with its new status, if any. An account given must be its item's leased one.
 */
export function finishTogetherWrites(
  done: ReadonlyArray<{ item: WorkItem; account?: AccountUpdate | undefined; unschedule: readonly WorkKind[] }>,
): Write[] {
  if (done.length === 0) return [];
  const ends = done.flatMap((d) => d.unschedule.map((kind) => ({ grantId: d.item.grantId, kind })));
  const leased = done.flatMap((d) => (d.item.accountLease ? [{ lease: d.item.accountLease, account: d.account }] : []));
  return [
    // Each arm leads with an = ANY its index answers (the primary key; grant and kind), so the
    // two are a bitmap OR of index lookups: an OR of the pair lists alone reads the whole queue.
    sql`DELETE FROM scheduled_work s
      WHERE (s.id = ANY(${done.map((d) => d.item.id)}::bigint[])
             AND (s.id, s.locked_by) IN (SELECT * FROM unnest(${done.map((d) => d.item.id)}::bigint[], ${done.map((d) => d.item.lockToken)}::text[])))
         OR (s.grant_id = ANY(${ends.map((e) => e.grantId)}::uuid[])
             AND (s.grant_id, s.kind) IN (SELECT * FROM unnest(${ends.map((e) => e.grantId)}::uuid[], ${ends.map((e) => e.kind)}::text[])))`,
    sql`UPDATE jit_accounts j SET
      status = COALESCE(a.status, j.status),
      updated_at = COALESCE(a.at, j.updated_at),
      lease_owner = CASE WHEN j.lease_owner = a.token THEN NULL ELSE j.lease_owner END,
      lease_until = CASE WHEN j.lease_owner = a.token THEN NULL ELSE j.lease_until END
    FROM unnest(
      ${leased.map((l) => l.lease.accountId)}::uuid[], ${leased.map((l) => l.lease.token)}::text[],
      ${leased.map((l) => l.account?.status ?? null)}::text[], ${leased.map((l) => l.account?.at ?? null)}::timestamptz[]
    ) AS a(id, token, status, at)
    WHERE j.id = a.id AND (a.status IS NOT NULL OR j.lease_owner = a.token)`,
  ];
}

/** The scheduler's own completion, for handlers that did not finish the item themselves. */
export const completeWork = finishWork;

/** Puts an item back for later (still ours only) and gives back its account lease. */
export async function deferWork(db: Db, item: WorkItem, dueAt: Date, error: string | null): Promise<void> {
  await releasingLease(
    item,
    sql`UPDATE scheduled_work SET due_at = ${dueAt}, locked_by = NULL, locked_until = NULL, last_error = ${error}
        WHERE id = ${item.id} AND locked_by = ${item.lockToken}`,
  ).execute(db);
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
