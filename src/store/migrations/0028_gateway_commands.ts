import { sql, type Kysely } from 'kysely';

/**
 * gateway_session_commands: the command lines typed at a shell prompt through the gateway, one
 * row each, written by the gateway as they are entered (only lines the host echoed back, so text
 * typed with echo off — passwords — never lands here). `offset_ms` is the time into the session's
 * recording, for seeking the playback. Searched across a tenant's sessions by substring.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE gateway_session_commands (
      id bigserial PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      session_id uuid NOT NULL REFERENCES gateway_sessions(id) ON DELETE CASCADE,
      ordinal integer NOT NULL,
      offset_ms integer NOT NULL,
      text text NOT NULL,
      UNIQUE (session_id, ordinal)
    );
  `.execute(db);
  await sql`CREATE INDEX gateway_session_commands_tenant ON gateway_session_commands (tenant_id, id DESC)`.execute(db);
}
