import { sql, type Kysely } from 'kysely';

/**
 * The directory object an administrator's confirmation bound (its objectGUID, read at the first
 * activation after the confirmation): a user deleted and created again under the same name is
 * another object, and not the one confirmed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE jit_accounts ADD COLUMN directory_object_id text`.execute(db);
}
