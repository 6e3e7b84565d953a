import { sql, type Kysely } from 'kysely';

/**
 * When a person's sign-ins were last ended (end-sessions, a password reset): an SSH connection
 * to the gateway authenticated before then is closed, and opens nothing new, on every gateway.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE operators ADD COLUMN sessions_ended_at timestamptz`.execute(db);
}
