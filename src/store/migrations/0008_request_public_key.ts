import { sql, type Kysely } from 'kysely';

/**
 * The requester's own public key (OpenSSH line, PEM public key or PKCS#10 CSR) for targets that
 * issue certificates: checked at request time, signed at activation. Public material, stored plain.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE access_requests ADD COLUMN public_key text;
  `.execute(db);
}
