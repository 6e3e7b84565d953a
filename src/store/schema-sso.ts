/** Row types of single sign-on (migration 0020, src/auth/oidc/). */
import type { ColumnType } from 'kysely';

type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
type Json<T> = ColumnType<T, string, string>;

export interface SsoRoleMapping {
  group: string;
  roles: string[];
}
export interface SsoGroupMapping {
  group: string;
  operatorGroup: string;
}

export interface TenantSsoTable {
  tenant_id: string;
  issuer: string;
  client_id: string;
  client_secret_enc: string | null;
  scopes: string[];
  email_claim: string;
  /** Entra ID says it in xms_edov rather than email_verified. */
  email_verified_claim: string;
  groups_claim: string;
  role_mappings: Json<SsoRoleMapping[]>;
  group_mappings: Json<SsoGroupMapping[]>;
  require_sso: ColumnType<boolean, boolean | undefined, boolean>;
  break_glass_emails: ColumnType<string[], string[] | undefined, string[]>;
  updated_at: Timestamp;
  updated_by: string | null;
}

export interface SsoFlowsTable {
  /** SHA-256 of the state (browser flows) or of the device flow handle. */
  id: string;
  tenant_id: string;
  kind: 'web' | 'cli' | 'device';
  nonce: string | null;
  code_verifier: string | null;
  /** SHA-256 of the value in the starting browser's cookie (web flows). */
  browser_hash: string | null;
  /** The CLI's loopback URL and its PKCE challenge (cli and device flows). */
  cli_redirect: string | null;
  cli_challenge: string | null;
  device_code_enc: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface SsoHandoffsTable {
  code_hash: string;
  operator_id: string;
  tenant_id: string;
  cli_challenge: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
}

export interface SsoIdentitiesTable {
  tenant_id: string;
  issuer: string;
  subject: string;
  operator_id: string;
  created_at: Timestamp;
  last_sign_in_at: Timestamp;
}

export interface SsoTables {
  tenant_sso: TenantSsoTable;
  sso_flows: SsoFlowsTable;
  sso_handoffs: SsoHandoffsTable;
  sso_identities: SsoIdentitiesTable;
}
