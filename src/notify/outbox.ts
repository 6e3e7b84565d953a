/**
 * The outbox as a work queue, on the ideas of scheduler/work-queue.ts (whose functions are bound
 * to scheduled_work): claims take due pending rows with FOR UPDATE SKIP LOCKED and a lease, so
 * several servers share one PostgreSQL and each message is attempted in one place at a time; a
 * crashed sender's lease lapses and the row is claimed again. Every outcome is recorded only
 * while the lease is still ours.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { NotificationChannel } from '../store/schema-notifications.js';
import { notifyDb } from './db.js';

export interface ClaimedNotification {
  id: string;
  tenantId: string;
  channel: NotificationChannel;
  recipient: string;
  event: string;
  subject: string;
  body: string;
  payload: unknown;
  /** Counting this one. */
  attempts: number;
  lockToken: string;
}

export async function claimDueNotifications(
  db: Kysely<Database>,
  opts: { workerId: string; now: Date; limit: number; leaseMs: number },
): Promise<ClaimedNotification[]> {
  if (opts.limit <= 0) return [];
  const leaseUntil = new Date(opts.now.getTime() + opts.leaseMs);
  const result = await sql<{
    id: string;
    tenant_id: string;
    channel: NotificationChannel;
    recipient: string;
    event: string;
    subject: string;
    body: string;
    payload: unknown;
    attempts: number;
    locked_by: string;
  }>`
    UPDATE notifications SET locked_by = ${opts.workerId} || ':' || id::text, locked_until = ${leaseUntil},
           attempts = attempts + 1
    WHERE id IN (
      SELECT id FROM notifications
      WHERE status = 'pending' AND next_attempt_at <= ${opts.now}
        AND (locked_until IS NULL OR locked_until < ${opts.now})
      ORDER BY next_attempt_at
      LIMIT ${opts.limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING id, tenant_id, channel, recipient, event, subject, body, payload, attempts, locked_by`.execute(db);
  return result.rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    channel: r.channel,
    recipient: r.recipient,
    event: r.event,
    subject: r.subject,
    body: r.body,
    payload: r.payload,
    attempts: r.attempts,
    lockToken: r.locked_by,
  }));
}

const ours = (n: ClaimedNotification) => (db: Kysely<Database>) =>
  notifyDb(db).updateTable('notifications').where('id', '=', n.id).where('locked_by', '=', n.lockToken).where('status', '=', 'pending');

export async function markSent(db: Kysely<Database>, n: ClaimedNotification, now: Date): Promise<void> {
  await ours(n)(db).set({ status: 'sent', sent_at: now, last_error: null, locked_by: null, locked_until: null }).execute();
}

export async function markFailed(db: Kysely<Database>, n: ClaimedNotification, error: string): Promise<void> {
  await ours(n)(db).set({ status: 'failed', last_error: error, locked_by: null, locked_until: null }).execute();
}

export async function retryLater(db: Kysely<Database>, n: ClaimedNotification, at: Date, error: string): Promise<void> {
  await ours(n)(db).set({ next_attempt_at: at, last_error: error, locked_by: null, locked_until: null }).execute();
}

/** When the next unleased pending row falls due, to aim the one timer (walks the partial index). */
export async function nextNotificationDueAt(db: Kysely<Database>, now: Date): Promise<Date | null> {
  const row = await notifyDb(db)
    .selectFrom('notifications')
    .select('next_attempt_at')
    .where('status', '=', 'pending')
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
    .orderBy('next_attempt_at')
    .limit(1)
    .executeTakeFirst();
  return row?.next_attempt_at ?? null;
}

/** On start, take back what this worker id held in a previous life instead of waiting for the leases. */
export async function releaseNotificationLeasesOf(db: Kysely<Database>, workerId: string): Promise<number> {
  const prefix = `${workerId}:`;
  const r = await sql`
    UPDATE notifications SET locked_by = NULL, locked_until = NULL
    WHERE status = 'pending' AND left(locked_by, ${prefix.length}) = ${prefix}`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/** An outcome that also replaces the payload (to erase a secret it held), in one update while the lease is ours. */
export async function settleWithPayload(
  db: Kysely<Database>,
  n: ClaimedNotification,
  outcome: { status: 'sent'; at: Date } | { status: 'failed'; error: string },
  payload: string,
): Promise<void> {
  const done = outcome.status === 'sent' ? { status: 'sent' as const, sent_at: outcome.at, last_error: null } : { status: 'failed' as const, last_error: outcome.error };
  await ours(n)(db).set({ ...done, payload, locked_by: null, locked_until: null }).execute();
}

/** Not ready to be sent yet (not a failure): look again at `at` without counting this claim as an attempt. */
export async function waitUncounted(db: Kysely<Database>, n: ClaimedNotification, at: Date, note: string): Promise<void> {
  await ours(n)(db).set({ next_attempt_at: at, attempts: sql<number>`attempts - 1`, last_error: note, locked_by: null, locked_until: null }).execute();
}
