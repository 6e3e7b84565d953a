/**
 * Row types of the notification tables (migration 0004). Kept apart from schema.ts so the
 * notification work lands without touching shared files; `NotificationTables` is meant to be
 * merged into `Database` (`interface Database extends NotificationTables`).
 */
import type { ColumnType, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
type Json = ColumnType<unknown, string | null | undefined, string | null>;

export type NotificationChannel = 'email' | 'webhook';
export type NotificationStatus = 'pending' | 'sent' | 'failed';
export type WebhookFormat = 'slack' | 'teams' | 'generic';

export interface TenantNotificationSettingsTable {
  tenant_id: string;
  /** Null: this tenant sends no email (webhooks may still be set up). */
  smtp_host: string | null;
  smtp_port: number | null;
  /** Implicit TLS from the first byte (port 465); otherwise STARTTLS. */
  smtp_secure: ColumnType<boolean, boolean | undefined, boolean>;
  /** Refuse to send unless STARTTLS succeeds; only switched off for a relay on the same host. */
  smtp_require_tls: ColumnType<boolean, boolean | undefined, boolean>;
  smtp_username: string | null;
  /** SecretBox ciphertext, context `tenant:<id>:smtp`. */
  smtp_password_enc: string | null;
  from_address: string | null;
  expiry_warning_seconds: ColumnType<number, number | undefined, number>;
  updated_at: Timestamp;
}

export interface WebhooksTable {
  id: string;
  tenant_id: string;
  name: string;
  url: string;
  format: WebhookFormat;
  /** SecretBox ciphertext, context `webhook:<id>`: the HMAC key of X-Timebox-Signature. */
  secret_enc: string;
  events: string[];
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
}

/** The outbox: written in the transaction of the decision it reports, delivered afterwards. */
export interface NotificationsTable {
  id: string;
  tenant_id: string;
  channel: NotificationChannel;
  /** An email address, or the id of a webhook. */
  recipient: string;
  event: string;
  subject: string;
  body: string;
  /** Email: the event itself; webhook: the exact JSON document posted. */
  payload: Json;
  status: NotificationStatus;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  locked_by: string | null;
  locked_until: NullableTimestamp;
  last_error: string | null;
  created_at: Timestamp;
  sent_at: NullableTimestamp;
}

export interface NotificationTables {
  tenant_notification_settings: TenantNotificationSettingsTable;
  webhooks: WebhooksTable;
  notifications: NotificationsTable;
}

export type NotificationRow = Selectable<NotificationsTable>;
export type WebhookRow = Selectable<WebhooksTable>;
export type NotificationSettingsRow = Selectable<TenantNotificationSettingsTable>;
