import { sql, type Kysely } from 'kysely';

/**
 * A live JIT account's name is unique on its target whatever its case. Requests already refuse
 * a name another person holds in any case (Active Directory and most directories compare names
 * without case); the index now says so too, so two first requests racing for `Bob_jit` and
 * `bob_jit` cannot both be written. Same name as before: the request path recognises a clash by it.
 *
 * A database that already holds two live names differing only in case (possible only through
 * that race) keeps the old index, rather than refusing to start; the requests' own check still
 * refuses new ones.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    DO $$
    BEGIN
      IF NOT EXISTS (
        SELECT 1 FROM jit_accounts WHERE status <> 'deleted' GROUP BY target_id, lower(username) HAVING count(*) > 1
      ) THEN
        DROP INDEX jit_accounts_live_name;
        CREATE UNIQUE INDEX jit_accounts_live_name ON jit_accounts (target_id, lower(username)) WHERE status <> 'deleted';
      END IF;
    END $$;
  `.execute(db);
}
