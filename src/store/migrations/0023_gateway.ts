import { sql, type Kysely } from 'kysely';

/**
 * The SSH gateway (src/gateway/):
 * - gateway_keys: the gateway's host key and the key that signs operators' gateway certificates,
 *   generated once for the installation and kept encrypted (every gateway process reads the same).
 * - operator_ssh_keys: public keys people registered in their profile to pass the gateway.
 * - gateway_destinations: where the gateway reaches a target's host, with the host key it must present.
 * - gateway_sessions: one row per recorded session; live while ended_at is null. `seen_at` is
 *   refreshed by the gateway holding it, so another gateway can end a session whose gateway died.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE gateway_keys (
      name text PRIMARY KEY CHECK (name IN ('host', 'user_ca')),
      algorithm text NOT NULL,
      public_key text NOT NULL,
      private_key_enc text NOT NULL,
      created_at timestamptz NOT NULL
    );
  `.execute(db);
  await sql`
    CREATE TABLE operator_ssh_keys (
      id uuid PRIMARY KEY,
      operator_id uuid NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
      name text NOT NULL,
      public_key text NOT NULL,
      fingerprint text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL
    );
  `.execute(db);
  await sql`CREATE INDEX operator_ssh_keys_operator ON operator_ssh_keys (operator_id)`.execute(db);
  await sql`
    CREATE TABLE gateway_destinations (
      target_id uuid PRIMARY KEY REFERENCES targets(id) ON DELETE CASCADE,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      host text NOT NULL,
      port integer NOT NULL,
      host_key text NOT NULL,
      updated_at timestamptz NOT NULL
    );
  `.execute(db);
  await sql`
    CREATE TABLE gateway_sessions (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      grant_id uuid NOT NULL REFERENCES grants(id),
      target_id uuid NOT NULL REFERENCES targets(id),
      operator_id uuid NOT NULL REFERENCES operators(id),
      account text NOT NULL,
      gateway_id text NOT NULL,
      client_address text,
      kind text NOT NULL,
      command text,
      recording_key_enc text NOT NULL,
      started_at timestamptz NOT NULL,
      seen_at timestamptz NOT NULL,
      kill_requested_at timestamptz,
      kill_requested_by uuid,
      ended_at timestamptz,
      end_reason text,
      recording_sha256 text,
      recording_bytes bigint
    );
  `.execute(db);
  await sql`CREATE INDEX gateway_sessions_tenant_started ON gateway_sessions (tenant_id, started_at DESC)`.execute(db);
  await sql`CREATE INDEX gateway_sessions_live ON gateway_sessions (gateway_id) WHERE ended_at IS NULL`.execute(db);
}
