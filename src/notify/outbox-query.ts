/** The outbox as admins see it: what was sent, what is waiting, and why something failed. */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { NotificationChannel, NotificationStatus } from '../store/schema-notifications.js';
import { notifyDb } from './db.js';

import { notificationStatuses } from '../api/endpoints/notifications.js';

export { notificationStatuses };
notificationStatuses satisfies readonly NotificationStatus[];

export interface NotificationView {
  id: string;
  channel: NotificationChannel;
  /** Email address, or webhook id. */
  recipient: string;
  event: string;
  subject: string;
  status: NotificationStatus;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
  sentAt: Date | null;
}

export async function listNotifications(
  db: Kysely<Database>,
  tenantId: string,
  f: { status?: NotificationStatus; limit: number; before?: { createdAt: Date; id: string } },
): Promise<{ items: NotificationView[]; next: { createdAt: Date; id: string } | null }> {
  let q = notifyDb(db).selectFrom('notifications').selectAll().where('tenant_id', '=', tenantId);
  if (f.status) q = q.where('status', '=', f.status);
  const b = f.before;
  if (b) q = q.where((eb) => eb.or([eb('created_at', '<', b.createdAt), eb.and([eb('created_at', '=', b.createdAt), eb('id', '<', b.id)])]));
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit + 1).execute();
  const items = rows.slice(0, f.limit).map(
    (r): NotificationView => ({
      id: r.id,
      channel: r.channel,
      recipient: r.recipient,
      event: r.event,
      subject: r.subject,
      status: r.status,
      attempts: r.attempts,
      lastError: r.last_error,
      nextAttemptAt: r.status === 'pending' ? r.next_attempt_at : null,
      createdAt: r.created_at,
      sentAt: r.sent_at,
    }),
  );
  const last = items.at(-1);
  return { items, next: rows.length > f.limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}
