import { sql, type Kysely } from 'kysely';

/**
 * Policies become versioned: an edit archives the current row and inserts its successor, so a
 * request already pending (or a grant already approved) keeps exactly the rules it was asked
 * under. A removed policy is archived too. Names are unique among the live policies only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE policies ADD COLUMN archived_at timestamptz;
    ALTER TABLE policies ADD COLUMN replaced_by uuid REFERENCES policies(id);
    ALTER TABLE policies DROP CONSTRAINT policies_tenant_id_name_key;
    CREATE UNIQUE INDEX policies_live_name ON policies (tenant_id, name) WHERE archived_at IS NULL;
  `.execute(db);
}
