import { sql, type Kysely } from 'kysely';

/**
 * At most one pending extension per grant: approvers decide on one ask at a time, and the cap is
 * never split across asks that were each checked alone. The application checks first (a clear
 * 409); the index holds even against a writer that forgot to.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    UPDATE grant_extensions SET state = 'cancelled', decided_at = created_at
    WHERE state = 'pending' AND id NOT IN (
      SELECT DISTINCT ON (grant_id) id FROM grant_extensions WHERE state = 'pending' ORDER BY grant_id, created_at
    );
    CREATE UNIQUE INDEX grant_extensions_one_pending ON grant_extensions (grant_id) WHERE state = 'pending';
  `.execute(db);
}
