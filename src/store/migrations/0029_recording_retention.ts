import { sql, type Kysely } from 'kysely';

/**
 * Retention of gateway recordings per tenant:
 * - gateway_settings: a tenant's gateway settings; no row means the defaults (365 days).
 * - gateway_sessions.recording_deleted_at: set when the retention sweeper removed the recording
 *   file; the row (who, when, the hash) stays for the audit trail.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE gateway_settings (
      tenant_id uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
      recording_retention_days integer NOT NULL CHECK (recording_retention_days BETWEEN 1 AND 3650),
      updated_at timestamptz NOT NULL
    );
  `.execute(db);
  await sql`ALTER TABLE gateway_sessions ADD COLUMN recording_deleted_at timestamptz`.execute(db);
  await sql`CREATE INDEX gateway_sessions_kept ON gateway_sessions (tenant_id, ended_at) WHERE recording_deleted_at IS NULL AND ended_at IS NOT NULL`.execute(db);
}
