import { sql, type Kysely } from 'kysely';

/**
 * The grants not yet final, by state: what each metrics scrape counts (grants by state and
 * target, overdue revocations). Without it every scrape read every grant ever stored; with it, a
 * scrape reads as many entries as grants are pending or live. The states are literals, as the
 * queries write them (src/store/store-dialect.ts), so the index matches.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX grants_unfinished ON grants (state, expires_at, target_id)
      WHERE state NOT IN ('revoked', 'denied', 'cancelled', 'expired', 'failed');
  `.execute(db);
}
