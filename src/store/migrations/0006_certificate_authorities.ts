import { sql, type Kysely } from 'kysely';

/**
 * Per-tenant certificate authorities (SSH, X.509, JWT signing keys) and every credential they
 * issued (src/credentials/). Issued rows are what KRLs, CRLs and token introspection are built from.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE certificate_authorities (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      kind text NOT NULL CHECK (kind IN ('ssh', 'x509', 'jwt')),
      -- SSH: SHA256 fingerprint; X.509: subject key identifier (hex); JWT: the JWK thumbprint used as kid.
      key_id text NOT NULL UNIQUE,
      algorithm text NOT NULL,
      -- What relying parties trust: an authorized_keys line, a CA certificate PEM, or a public JWK.
      public_key text NOT NULL,
      -- SecretBox ciphertext bound to 'ca:<id>'; the key never exists unencrypted at rest.
      private_key_enc text NOT NULL,
      status text NOT NULL CHECK (status IN ('active', 'retiring', 'retired')),
      created_at timestamptz NOT NULL,
      -- The CA's own end of validity (X.509 CA certificate); null when the key format has none.
      not_after timestamptz,
      -- Rotation: when it stopped issuing, and when its last credential ran out and trust ended.
      rotated_at timestamptz,
      retired_at timestamptz,
      -- Serial counter: bumped with UPDATE ... RETURNING, which also proves the CA is still active.
      last_serial bigint NOT NULL DEFAULT 0
    );
    -- One issuing CA per tenant and kind; rotation flips the old one to 'retiring' in the same transaction.
    CREATE UNIQUE INDEX certificate_authorities_one_active
      ON certificate_authorities(tenant_id, kind) WHERE status = 'active';
    CREATE INDEX certificate_authorities_tenant ON certificate_authorities(tenant_id, kind, status);

    CREATE TABLE issued_credentials (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      ca_id uuid NOT NULL REFERENCES certificate_authorities(id),
      serial bigint NOT NULL,
      -- No foreign key: credentials are also issued outside grants (tests, break-glass), and a grant
      -- row is never deleted while its credentials matter.
      grant_id uuid,
      subject text NOT NULL,
      -- SSH principals, X.509 subject alternative names, or token scopes.
      principals text[] NOT NULL,
      not_before timestamptz NOT NULL,
      not_after timestamptz NOT NULL,
      created_at timestamptz NOT NULL,
      revoked_at timestamptz,
      revocation_reason text,
      UNIQUE (ca_id, serial)
    );
    CREATE INDEX issued_credentials_grant ON issued_credentials(grant_id);
    -- KRL/CRL builders and the retirement sweep read by CA and end of validity.
    CREATE INDEX issued_credentials_ca_not_after ON issued_credentials(ca_id, not_after);
  `.execute(db);
}
