/**
 * Row types of the credential tables (migration 0002_certificate_authorities), kept apart from
 * schema.ts until they are merged into `Database`. Until then src/credentials widens the store's
 * Kysely instance with `CredentialsDatabase`.
 */
import type { ColumnType, Kysely, Selectable } from 'kysely';
import type { Database } from './schema.js';

type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
/** int8: read back as a string so large serials are never rounded. */
type Int8 = ColumnType<string, string | number | bigint | undefined, string | number | bigint>;

export type CaKind = 'ssh' | 'x509' | 'jwt';
export type CaStatus = 'active' | 'retiring' | 'retired';

export interface CertificateAuthoritiesTable {
  id: string;
  tenant_id: string;
  kind: CaKind;
  key_id: string;
  algorithm: string;
  public_key: string;
  /** SecretBox ciphertext bound to `ca:<id>`. */
  private_key_enc: string;
  status: CaStatus;
  created_at: Timestamp;
  not_after: NullableTimestamp;
  rotated_at: NullableTimestamp;
  retired_at: NullableTimestamp;
  last_serial: Int8;
}

export interface IssuedCredentialsTable {
  id: string;
  tenant_id: string;
  ca_id: string;
  serial: Int8;
  grant_id: string | null;
  subject: string;
  principals: string[];
  not_before: Timestamp;
  not_after: Timestamp;
  created_at: Timestamp;
  revoked_at: NullableTimestamp;
  revocation_reason: string | null;
  /** `ssh:SHA256:…` or `x509:SHA256:…` of the certified public key; null for tokens. */
  key_fingerprint: string | null;
}

export interface CredentialTables {
  certificate_authorities: CertificateAuthoritiesTable;
  issued_credentials: IssuedCredentialsTable;
}

/** The store's tables plus these; becomes plain `Database` once the lead merges the interfaces. */
export type CredentialsDatabase = Database & CredentialTables;
export type CredentialsDb = Kysely<CredentialsDatabase>;

export type CertificateAuthorityRow = Selectable<CertificateAuthoritiesTable>;
export type IssuedCredentialRow = Selectable<IssuedCredentialsTable>;
