import { sql, type Kysely } from 'kysely';

/**
 * The audit log without a global lock (src/audit/audit-sealer.ts): events are inserted unsealed
 * with their transaction id; one sealer later gives each tenant's chain (and the platform chain,
 * tenant_id null) its positions and hashes, and signs checkpoints of the chain heads.
 * Events written before this migration lose their old single-chain hashes and are sealed again,
 * in their old order, into the per-tenant chains.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TRIGGER audit_events_no_update ON audit_events;

    ALTER TABLE audit_events ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL;
    -- Existing rows: one old transaction id, so they are sealed first and in seq order.
    ALTER TABLE audit_events ADD COLUMN xid xid8 NOT NULL DEFAULT '1';
    ALTER TABLE audit_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
    ALTER TABLE audit_events ADD COLUMN chain_pos bigint, ADD COLUMN sealed_at timestamptz;
    UPDATE audit_events SET prev_hash = NULL, hash = NULL;

    -- seq is now only the insertion id: unique and stable, with gaps where a transaction rolled back.
    ALTER TABLE audit_events ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY;
    SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), coalesce(max(seq), 0) + 1, false) FROM audit_events;

    -- One position per chain, ever: a second seal of the same position fails.
    CREATE UNIQUE INDEX audit_events_chain ON audit_events
      ((coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)), chain_pos) WHERE chain_pos IS NOT NULL;
    CREATE INDEX audit_events_unsealed ON audit_events (xid, seq) WHERE hash IS NULL;

    -- Rows are never deleted and their content never changes; the sealer may fill in the chain
    -- columns of an unsealed row, once.
    CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND OLD.chain_pos IS NULL
         AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.chain_pos IS NOT NULL AND NEW.sealed_at IS NOT NULL
         AND (NEW.seq, NEW.id, NEW.at, NEW.tenant_id, NEW.actor_type, NEW.actor_id, NEW.action, NEW.subject_type,
              NEW.subject_id, NEW.reason, NEW.before, NEW.after, NEW.xid)
             IS NOT DISTINCT FROM
             (OLD.seq, OLD.id, OLD.at, OLD.tenant_id, OLD.actor_type, OLD.actor_id, OLD.action, OLD.subject_type,
              OLD.subject_id, OLD.reason, OLD.before, OLD.after, OLD.xid) THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit_events is append-only';
    END;
    $$ LANGUAGE plpgsql;
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

    -- Signed chain heads. The signing key is not in the database and every checkpoint is also
    -- written to a witness outside it, so a rewritten history cannot be re-signed.
    CREATE TABLE audit_checkpoints (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      log_id uuid NOT NULL,
      tenant_id uuid,
      chain_pos bigint NOT NULL,
      hash text NOT NULL,
      at timestamptz NOT NULL,
      key_id text NOT NULL,
      signature text NOT NULL
    );
    CREATE INDEX audit_checkpoints_chain ON audit_checkpoints
      ((coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)), chain_pos DESC);
    CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION 'audit_checkpoints is append-only';
    END;
    $$ LANGUAGE plpgsql;
    CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE OR DELETE ON audit_checkpoints
      FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();

    -- Names this log in every checkpoint, so checkpoints of another database never count for it.
    INSERT INTO settings (key, value) VALUES ('audit.log_id', to_jsonb(gen_random_uuid()::text));
  `.execute(db);
}
