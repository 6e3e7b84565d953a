import { sql, type Kysely } from 'kysely';

/**
 * Deleting a target: the row stays (grants, accounts and the audit trail keep naming it) and is
 * marked deleted; only targets not deleted need a unique name, so the name can be used again.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE targets ADD COLUMN deleted_at timestamptz`.execute(db);
  await sql`ALTER TABLE targets DROP CONSTRAINT targets_tenant_id_name_key`.execute(db);
  await sql`CREATE UNIQUE INDEX targets_live_name ON targets (tenant_id, name) WHERE deleted_at IS NULL`.execute(db);
}
