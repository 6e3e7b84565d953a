import { sql, type Kysely } from 'kysely';

/**
 * The grant lists people open every day, found by index at any size of the store: a person's own
 * grants (a requester's list), a tenant's grants in one state (the list's state filter and the
 * approval inbox's requests, `state = 'requested'`). Both in the lists' order, newest first.
 * Without them each opening read every grant stored (test/store/plans-at-scale.test.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX grants_operator_created ON grants (tenant_id, operator_id, created_at DESC, id DESC);
    CREATE INDEX grants_state_created ON grants (tenant_id, state, created_at DESC, id DESC);
  `.execute(db);
}
