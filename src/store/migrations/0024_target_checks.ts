import { sql, type Kysely } from 'kysely';

/**
 * Targets remember their last connection test (a target saved although its test failed is shown
 * broken until a test passes), and are deleted softly: grants, requests and the audit trail keep
 * naming them, while the name becomes free for a new target.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE targets ADD COLUMN last_check_ok boolean;
    ALTER TABLE targets ADD COLUMN last_check_at timestamptz;
    -- The test's items ({ name, ok, message }[]); no secret goes in them.
    ALTER TABLE targets ADD COLUMN last_check jsonb;
    ALTER TABLE targets ADD COLUMN deleted_at timestamptz;
    ALTER TABLE targets DROP CONSTRAINT targets_tenant_id_name_key;
    CREATE UNIQUE INDEX targets_live_name ON targets (tenant_id, name) WHERE deleted_at IS NULL;
  `.execute(db);
}
