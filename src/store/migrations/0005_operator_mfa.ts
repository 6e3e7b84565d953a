import { sql, type Kysely } from 'kysely';

/** TOTP second factor of operators (src/auth/totp.ts). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- SecretBox ciphertexts bound to 'operator:<id>:totp'; never the base32 secret itself.
    ALTER TABLE operators ADD COLUMN totp_secret_enc text;
    -- An enrolment the operator has not yet proven with a code; sign-in ignores it.
    ALTER TABLE operators ADD COLUMN totp_pending_secret_enc text;
    ALTER TABLE operators ADD COLUMN totp_enabled_at timestamptz;
    -- Last accepted 30-second time step: a code is accepted only for a later step (no replay).
    ALTER TABLE operators ADD COLUMN totp_last_step bigint;
  `.execute(db);
}
