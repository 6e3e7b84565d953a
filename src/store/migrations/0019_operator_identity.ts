import { sql, type Kysely } from 'kysely';

/**
 * Own passwords, invitations and offboarding (src/auth/invitations.ts, src/app/offboarding.ts):
 * a flag forcing a password someone else set to be changed at first sign-in, a per-tenant
 * membership switch, and one-time invitation links stored only as hashes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE operators ADD COLUMN password_change_required boolean NOT NULL DEFAULT false;
    ALTER TABLE memberships ADD COLUMN disabled_at timestamptz;
    CREATE TABLE invitations (
      id uuid PRIMARY KEY,
      token_hash text NOT NULL UNIQUE,
      email text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('member', 'reset')),
      tenant_id uuid REFERENCES tenants(id),
      roles text[] NOT NULL DEFAULT '{}',
      display_name text,
      invited_by uuid REFERENCES operators(id),
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      used_by uuid REFERENCES operators(id),
      CHECK (kind = 'reset' OR tenant_id IS NOT NULL)
    );
    CREATE INDEX invitations_email ON invitations (email) WHERE used_at IS NULL;
  `.execute(db);
}
