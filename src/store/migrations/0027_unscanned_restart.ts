import { sql, type Kysely } from 'kysely';

/**
 * Work that must not grow with the number of active grants, found through small partial indexes
 * instead of reading every row (with a million active grants each scan took seconds, and on the
 * embedded store's one connection every request waited behind it):
 * - leases a restarting server takes back (releaseLeasesOf): only rows leased at the moment;
 * - grants whose revocation is pending or failed, which the target probe looks for every two
 *   seconds and hurries when their target is back: only those grants.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX scheduled_work_leased ON scheduled_work (locked_by) WHERE locked_by IS NOT NULL`.execute(db);
  await sql`CREATE INDEX jit_accounts_leased ON jit_accounts (lease_owner) WHERE lease_owner IS NOT NULL`.execute(db);
  await sql`
    CREATE INDEX grants_revoking ON grants (target_id, tenant_id, revoke_attempts)
    WHERE state IN ('revoking', 'revoke_failed')`.execute(db);
}
