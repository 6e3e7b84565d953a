import { sql, type Kysely } from 'kysely';

/**
 * SIEM streaming (src/siem/): per sink and audit chain, the last chain position delivered. The
 * streamer advances a row only after the collector took the batch, so a restart or an outage
 * resends from here (at least once; receivers dedupe on the event id).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE siem_cursors (
      sink text NOT NULL,
      -- The chain: the tenant id, or the zero uuid for the platform chain (as in audit_events_chain).
      chain uuid NOT NULL,
      chain_pos bigint NOT NULL,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (sink, chain)
    );
  `.execute(db);
}
