import { sql, type Kysely } from 'kysely';

/**
 * The public key each issued certificate certifies (a fingerprint), so one key is certified for
 * one person only in a tenant: a second person presenting it would act under the first one's
 * name, or hand their access to whoever holds the private key.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE issued_credentials ADD COLUMN key_fingerprint text`.execute(db);
  await sql`CREATE INDEX issued_credentials_key ON issued_credentials (tenant_id, key_fingerprint) WHERE key_fingerprint IS NOT NULL`.execute(db);
}
