import { sql, type Kysely } from 'kysely';

/**
 * Single sign-on with OpenID Connect (src/auth/oidc/): each tenant's provider settings (client
 * secret encrypted), sign-in attempts in flight (single use, short-lived), one-time codes handed
 * to the CLI, which IdP subject is which operator, and sessions confined to the tenant whose
 * provider vouched for them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE tenant_sso (
      tenant_id uuid PRIMARY KEY REFERENCES tenants(id),
      issuer text NOT NULL,
      client_id text NOT NULL,
      client_secret_enc text,
      scopes text[] NOT NULL,
      email_claim text NOT NULL,
      email_verified_claim text NOT NULL,
      groups_claim text NOT NULL,
      role_mappings jsonb NOT NULL,
      group_mappings jsonb NOT NULL,
      require_sso boolean NOT NULL DEFAULT false,
      break_glass_emails text[] NOT NULL DEFAULT '{}',
      updated_at timestamptz NOT NULL,
      updated_by uuid
    );
    CREATE TABLE sso_flows (
      id text PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      kind text NOT NULL CHECK (kind IN ('web', 'cli', 'device')),
      nonce text,
      code_verifier text,
      browser_hash text,
      cli_redirect text,
      cli_challenge text,
      device_code_enc text,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL
    );
    CREATE INDEX sso_flows_expires ON sso_flows (expires_at);
    CREATE TABLE sso_handoffs (
      code_hash text PRIMARY KEY,
      operator_id uuid NOT NULL REFERENCES operators(id),
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      cli_challenge text NOT NULL,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz
    );
    CREATE TABLE sso_identities (
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      issuer text NOT NULL,
      subject text NOT NULL,
      operator_id uuid NOT NULL REFERENCES operators(id),
      created_at timestamptz NOT NULL,
      last_sign_in_at timestamptz NOT NULL,
      PRIMARY KEY (tenant_id, issuer, subject)
    );
    ALTER TABLE api_tokens ADD COLUMN sso_tenant_id uuid REFERENCES tenants(id);
  `.execute(db);
}
