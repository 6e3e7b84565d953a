import { sql, type Kysely } from 'kysely';

/**
 * A person's binding to an existing user of a host (linux-agent-users) is made at their first
 * request, by the name they give. Before the gateway logs in as that user with a certificate, an
 * administrator other than the person confirms the binding: who confirmed it, and when.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE jit_accounts
      ADD COLUMN confirmed_at timestamptz,
      ADD COLUMN confirmed_by uuid REFERENCES operators(id)
  `.execute(db);
}
