import { sql, type Kysely } from 'kysely';

/** Notification settings per tenant, webhooks, and the outbox of messages to deliver. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- Absent row or null smtp_host: the tenant sends no email.
    CREATE TABLE tenant_notification_settings (
      tenant_id uuid PRIMARY KEY REFERENCES tenants(id),
      smtp_host text,
      smtp_port integer CHECK (smtp_port BETWEEN 1 AND 65535),
      smtp_secure boolean NOT NULL DEFAULT false,
      smtp_require_tls boolean NOT NULL DEFAULT true,
      smtp_username text,
      smtp_password_enc text,            -- SecretBox, context tenant:<id>:smtp
      from_address text,
      expiry_warning_seconds integer NOT NULL DEFAULT 900,
      updated_at timestamptz NOT NULL
    );

    CREATE TABLE webhooks (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      name text NOT NULL,
      url text NOT NULL,
      format text NOT NULL CHECK (format IN ('slack', 'teams', 'generic')),
      secret_enc text NOT NULL,          -- SecretBox, context webhook:<id>
      events text[] NOT NULL,
      enabled boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL,
      UNIQUE (tenant_id, name)
    );

    -- Outbox: rows are written in the transaction of the decision they report, so a message
    -- exists if and only if that decision committed; a dispatcher delivers them afterwards.
    CREATE TABLE notifications (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      channel text NOT NULL CHECK (channel IN ('email', 'webhook')),
      recipient text NOT NULL,           -- an email address or a webhook id
      event text NOT NULL,
      subject text NOT NULL,
      body text NOT NULL,
      payload jsonb,
      status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL,
      locked_by text,
      locked_until timestamptz,
      last_error text,
      created_at timestamptz NOT NULL,
      sent_at timestamptz
    );
    -- Only pending rows are ever claimed: the index stays as small as the backlog.
    CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE status = 'pending';
    CREATE INDEX notifications_tenant_created ON notifications(tenant_id, created_at DESC, id DESC);
  `.execute(db);
}
