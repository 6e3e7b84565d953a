import { sql, type Kysely } from 'kysely';

/**
 * What raised an alert, as data: the reconciler finds its open drift alerts again by `kind`, not
 * by the wording of their message. Existing drift alerts are recognised once, here, by the
 * prefix every one of them was written with.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE alerts ADD COLUMN kind text`.execute(db);
  await sql`UPDATE alerts SET kind = 'drift' WHERE message LIKE 'Drift on JIT account%'`.execute(db);
  await sql`CREATE INDEX alerts_open_by_grant_kind ON alerts (grant_id, kind) WHERE resolved_at IS NULL`.execute(db);
}
