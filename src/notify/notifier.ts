/**
 * Queues notifications in the caller's transaction (the outbox pattern): a message exists if
 * and only if the decision it reports committed, and nothing is sent from inside a transaction.
 * Delivery is the dispatcher's job. Recipients are resolved now, so a message goes to the people
 * who were approvers when the event happened.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import type { NotificationsTable } from '../store/schema-notifications.js';
import { notifyDb } from './db.js';
import { notificationEventSchema, type NotificationEvent } from './events.js';
import { renderMessage } from './render.js';
import { webhookPayload } from './webhook-payloads.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const NO_SMTP_SETTINGS = 'no SMTP settings for this tenant';

/** db and secrets are not needed to queue (all of it happens in the caller's transaction); the shape matches the dispatcher's. */
export interface NotifierDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  clock: Clock;
  log: Logger;
}

export interface Notifier {
  /**
   * Adds one email per recipient (operators of the tenant, disabled ones skipped) and one
   * message per enabled webhook of the tenant subscribed to the event. Throws only on a
   * malformed event (a bug in the caller) or a store error, both of which should abort.
   */
  enqueue(
    tx: Transaction<Database> | Kysely<Database>,
    tenantId: string,
    event: NotificationEvent,
    recipients: { operatorIds: string[] },
  ): Promise<void>;
}

function idsIn(event: NotificationEvent): string[] {
  const ids: string[] = [];
  if ('by' in event) ids.push(event.by);
  if (event.type === 'approval_requested') ids.push(...event.approverIds);
  return ids;
}

export function createNotifier(deps: NotifierDeps): Notifier {
  const { clock, log } = deps;
  // The outbox row says it on every event; the log says it once per tenant per 10 minutes, so a
  // busy tenant without SMTP does not pay a log line per request.
  const warnedAt = new Map<string, number>();
  const warnNoSmtp = (tenantId: string, at: number) => {
    if (at - (warnedAt.get(tenantId) ?? -Infinity) < 600_000) return false;
    warnedAt.set(tenantId, at);
    return true;
  };
  return {
    async enqueue(tx, tenantId, input, recipients) {
      const parsed = notificationEventSchema.safeParse(input);
      if (!parsed.success) {
        const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ');
        throw new Error(`malformed notification event ${String((input as { type?: unknown }).type)}: ${where}`);
      }
      const event = parsed.data;
      const db = notifyDb(tx);
      const now = clock.now();

      const tenant = await db.selectFrom('tenants').select(['id', 'slug', 'name']).where('id', '=', tenantId).executeTakeFirstOrThrow();
      const wanted = [...new Set(recipients.operatorIds)];
      // Ids go into a uuid comparison: anything else would abort the caller's transaction.
      const lookup = [...new Set([...wanted, ...idsIn(event)])].filter((id) => UUID.test(id));
      const people =
        lookup.length === 0
          ? []
          : await db
              .selectFrom('operators')
              .leftJoin('memberships', (j) =>
                // A member disabled here (offboarded) hears nothing more about the tenant.
                j.onRef('memberships.operator_id', '=', 'operators.id').on('memberships.tenant_id', '=', tenantId).on('memberships.disabled_at', 'is', null),
              )
              .select(['operators.id', 'operators.email', 'operators.disabled', 'memberships.tenant_id as member_of'])
              .where('operators.id', 'in', lookup)
              .execute();
      const byId = new Map(people.map((p) => [p.id, p]));
      // Only members of this tenant hear about its grants, whatever the caller passed.
      const emails = [
        ...new Set(
          wanted.flatMap((id) => {
            const p = byId.get(id);
            return p && !p.disabled && p.member_of ? [p.email] : [];
          }),
        ),
      ];

      const smtp = await db
        .selectFrom('tenant_notification_settings')
        .select(['smtp_host', 'from_address'])
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      const hasSmtp = Boolean(smtp?.smtp_host && smtp.from_address);
      const hooks = await db
        .selectFrom('webhooks')
        .select(['id', 'format'])
        .where('tenant_id', '=', tenantId)
        .where('enabled', '=', true)
        .where(sql<boolean>`${event.type} = ANY(events)`)
        .orderBy('name')
        .execute();

      const ctx = { tenant, people: new Map(people.map((p) => [p.id, p.email])) };
      const message = renderMessage(event, ctx);
      const base = { tenant_id: tenantId, event: event.type, subject: message.subject, body: message.body, next_attempt_at: now, created_at: now };
      const rows: Insertable<NotificationsTable>[] = [
        ...emails.map((email) => ({
          ...base,
          id: randomUUID(),
          channel: 'email' as const,
          recipient: email,
          payload: JSON.stringify(event),
          // Recorded, not dropped: the outbox shows admins that email is not set up.
          status: hasSmtp ? ('pending' as const) : ('failed' as const),
          last_error: hasSmtp ? null : NO_SMTP_SETTINGS,
        })),
        ...hooks.map((h) => ({
          ...base,
          id: randomUUID(),
          channel: 'webhook' as const,
          recipient: h.id,
          payload: JSON.stringify(webhookPayload(h.format, message, event, ctx, now)),
          status: 'pending' as const,
        })),
      ];
      if (rows.length === 0) return;
      await db.insertInto('notifications').values(rows).execute();
      if (emails.length > 0 && !hasSmtp && warnNoSmtp(tenantId, now.getTime())) log.warn({ tenantId, event: event.type, emails: emails.length }, 'email notifications not sent: no SMTP settings for this tenant');
    },
  };
}
