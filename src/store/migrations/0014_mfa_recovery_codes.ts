import { sql, type Kysely } from 'kysely';

/** Single-use recovery codes for operators with an authenticator app (src/auth/recovery-codes.ts). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE operator_recovery_codes (
      operator_id uuid NOT NULL REFERENCES operators(id),
      code_hash text NOT NULL,
      created_at timestamptz NOT NULL,
      used_at timestamptz,
      PRIMARY KEY (operator_id, code_hash)
    );
  `.execute(db);
}
