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
import type { NotificationsTable, WebhookFormat } from '../store/schema-notifications.js';
import { notifyDb } from './db.js';
import { type Write, writeTogether } from '../store/write-together.js';
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
  /** Several events of one decision, as enqueue would add them one by one, in one lookup and one insert. */
  enqueueAll(tx: Transaction<Database> | Kysely<Database>, tenantId: string, items: ReadonlyArray<{ event: NotificationEvent; recipients: { operatorIds: string[] } }>): Promise<void>;
  /**
   * enqueueAll's insert, not run: for the caller to send in the statement of its own writes
   * (write-together.ts). Null when nobody is to be told.
   */
  enqueueAllWrite(
    tx: Transaction<Database> | Kysely<Database>,
    tenantId: string,
    items: ReadonlyArray<{ event: NotificationEvent; recipients: { operatorIds: string[] } }>,
  ): Promise<Write | null>;
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
  const parse = (input: NotificationEvent): NotificationEvent => {
    const parsed = notificationEventSchema.safeParse(input);
    if (parsed.success) return parsed.data;
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ');
    throw new Error(`malformed notification event ${String((input as { type?: unknown }).type)}: ${where}`);
  };

  async function enqueueAllWrite(
    tx: Transaction<Database> | Kysely<Database>,
    tenantId: string,
    items: ReadonlyArray<{ event: NotificationEvent; recipients: { operatorIds: string[] } }>,
  ): Promise<Write | null> {
    if (items.length === 0) return null;
    const events = items.map((i) => parse(i.event));
    const now = clock.now();
    const wantedOf = items.map((i) => [...new Set(i.recipients.operatorIds)]);
    // Ids go into a uuid comparison: anything else would abort the caller's transaction.
    const lookup = [...new Set([...wantedOf.flat(), ...events.flatMap(idsIn)])].filter((id) => UUID.test(id));
    const { tenant, people, hasSmtp, hooks } = await loadContext(tx, tenantId, [...new Set(events.map((e) => e.type))], lookup);
    const byId = new Map(people.map((p) => [p.id, p]));
    const ctx = { tenant, people: new Map(people.map((p) => [p.id, p.email])) };

    const rows: Insertable<NotificationsTable>[] = [];
    let emailed = 0;
    events.forEach((event, k) => {
      // Only members of this tenant hear about its grants, whatever the caller passed.
      const emails = [
        ...new Set(
          wantedOf[k]!.flatMap((id) => {
            const p = byId.get(id);
            return p && !p.disabled && p.member_of ? [p.email] : [];
          }),
        ),
      ];
      emailed += emails.length;
      const message = renderMessage(event, ctx);
      const base = { tenant_id: tenantId, event: event.type, subject: message.subject, body: message.body, next_attempt_at: now, created_at: now };
      for (const email of emails) {
        rows.push({
          ...base,
          id: randomUUID(),
          channel: 'email' as const,
          recipient: email,
          payload: JSON.stringify(event),
          // Recorded, not dropped: the outbox shows admins that email is not set up.
          status: hasSmtp ? ('pending' as const) : ('failed' as const),
          last_error: hasSmtp ? null : NO_SMTP_SETTINGS,
        });
      }
      for (const h of hooks.filter((h) => h.events.includes(event.type))) {
        rows.push({
          ...base,
          id: randomUUID(),
          channel: 'webhook' as const,
          recipient: h.id,
          payload: JSON.stringify(webhookPayload(h.format, message, event, ctx, now)),
          status: 'pending' as const,
        });
      }
    });
    if (rows.length === 0) return null;
    if (emailed > 0 && !hasSmtp && warnNoSmtp(tenantId, now.getTime())) {
      log.warn({ tenantId, events: [...new Set(events.map((e) => e.type))], emails: emailed }, 'email notifications not sent: no SMTP settings for this tenant');
    }
    return notifyDb(tx).insertInto('notifications').values(rows);
  }

  const enqueueAll: Notifier['enqueueAll'] = async (tx, tenantId, items) => {
    const write = await enqueueAllWrite(tx, tenantId, items);
    if (write) await writeTogether(tx, [write]);
  };

  return {
    enqueue: (tx, tenantId, event, recipients) => enqueueAll(tx, tenantId, [{ event, recipients }]),
    enqueueAll,
    enqueueAllWrite,
  };
}

interface ContextRow {
  id: string;
  slug: string;
  name: string;
  has_smtp: boolean;
  hooks: Array<{ id: string; format: WebhookFormat; events: string[] }>;
  people: Array<{ id: string; email: string; disabled: boolean; member_of: boolean }>;
}

/**
 * Everything the messages need besides their events, in one statement (it runs inside the
 * deciding transaction): the tenant, whether it has SMTP settings, its enabled webhooks
 * subscribed to any of the events (by name, with the events each takes), and the people named
 * (members of this tenant not disabled here: `member_of`).
 */
async function loadContext(tx: Transaction<Database> | Kysely<Database>, tenantId: string, eventTypes: string[], ids: string[]) {
  const r = await sql<ContextRow>`
    SELECT t.id, t.slug, t.name,
      coalesce(s.smtp_host IS NOT NULL AND s.smtp_host <> '' AND s.from_address IS NOT NULL AND s.from_address <> '', false) AS has_smtp,
      coalesce((SELECT json_agg(json_build_object('id', w.id, 'format', w.format, 'events', w.events) ORDER BY w.name)
                FROM webhooks w WHERE w.tenant_id = t.id AND w.enabled AND w.events && ${eventTypes}::text[]), '[]'::json) AS hooks,
      coalesce((SELECT json_agg(json_build_object('id', o.id, 'email', o.email, 'disabled', o.disabled, 'member_of', m.tenant_id IS NOT NULL))
                FROM operators o
                -- A member disabled here (offboarded) hears nothing more about the tenant.
                LEFT JOIN memberships m ON m.operator_id = o.id AND m.tenant_id = t.id AND m.disabled_at IS NULL
                WHERE o.id = ANY(${ids}::uuid[])), '[]'::json) AS people
    FROM tenants t LEFT JOIN tenant_notification_settings s ON s.tenant_id = t.id
    WHERE t.id = ${tenantId}::uuid`.execute(tx);
  const row = r.rows[0];
  if (!row) throw new Error(`no tenant ${tenantId} to notify`);
  return { tenant: { id: row.id, slug: row.slug, name: row.name }, hasSmtp: row.has_smtp, hooks: row.hooks, people: row.people };
}
