/** Row types of the database, as Kysely sees them (same for PGlite and PostgreSQL). */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { NotificationTables } from './schema-notifications.js';
import type { CredentialTables } from './schema-credentials.js';
import type { AgentTables } from './schema-agents.js';
import type { SsoTables } from './schema-sso.js';
import type { IdentityTables } from './schema-identity.js';

type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
type Json = ColumnType<unknown, string | null | undefined, string | null>;

export interface TenantsTable {
  id: string;
  slug: string;
  name: string;
  created_at: Timestamp;
}

export interface OperatorsTable {
  id: string;
  email: string;
  display_name: string;
  password_hash: string | null;
  /** Set on a password someone else chose or generated (the first owner's): change it before anything else. */
  password_change_required: ColumnType<boolean, boolean | undefined, boolean>;
  platform_admin: ColumnType<boolean, boolean | undefined, boolean>;
  disabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  totp_secret_enc: ColumnType<string | null, string | null | undefined, string | null>;
  totp_pending_secret_enc: ColumnType<string | null, string | null | undefined, string | null>;
  totp_enabled_at: NullableTimestamp;
  /** int8: read back as a string. */
  totp_last_step: ColumnType<string | null, string | number | null | undefined, string | number | null>;
  /** Sign-ins last ended (end-sessions): gateway connections authenticated before it are closed. */
  sessions_ended_at: NullableTimestamp;
}

export interface MembershipsTable {
  tenant_id: string;
  operator_id: string;
  roles: string[];
  created_at: Timestamp;
  /** Offboarded from this tenant: no access here; re-enabling restores sign-in only. */
  disabled_at: NullableTimestamp;
}

export interface ApiTokensTable {
  id: string;
  operator_id: string;
  name: string;
  kind: 'api' | 'session';
  token_hash: string;
  csrf_hash: string | null;
  created_at: Timestamp;
  expires_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  /** Set for sessions begun through a tenant's single sign-on: they reach that tenant only. */
  sso_tenant_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface TargetsTable {
  id: string;
  tenant_id: string;
  name: string;
  kind: string;
  config_enc: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** The last connection test (migration 0024): null before any. */
  last_check_ok: ColumnType<boolean | null, boolean | null | undefined, boolean | null>;
  last_check_at: NullableTimestamp;
  /** The test's items, as JSON text on write. */
  last_check: Json;
  /** Set when the target was deleted; the row stays so grants and the audit trail keep its name. */
  deleted_at: NullableTimestamp;
}

export interface EntitlementsTable {
  id: string;
  tenant_id: string;
  target_id: string;
  external_id: string;
  display_name: string;
  created_at: Timestamp;
}

export interface PoliciesTable {
  id: string;
  tenant_id: string;
  name: string;
  target_id: string | null;
  entitlements: string[] | null;
  requester_roles: string[];
  max_duration_seconds: number;
  default_duration_seconds: number;
  reason_min_length: ColumnType<number, number | undefined, number>;
  pending_ttl_seconds: ColumnType<number, number | undefined, number>;
  rules: Json;
  created_at: Timestamp;
  /** Set when edited (then `replaced_by` is the new version) or removed; pending requests keep it. */
  archived_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  replaced_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface JitAccountsTable {
  id: string;
  tenant_id: string;
  target_id: string;
  operator_id: string;
  username: string;
  /** 'deleting' while the target removes it; a 'deleted' row stays for the history. */
  status: 'provisioning' | 'enabled' | 'disabled' | 'deleting' | 'deleted';
  created_at: Timestamp;
  updated_at: Timestamp;
  last_grant_id: string | null;
  lease_owner: string | null;
  lease_until: NullableTimestamp;
  /** An existing host user's binding, confirmed by an administrator (the gateway needs it). */
  confirmed_at: NullableTimestamp;
  confirmed_by: string | null;
  /** The directory object (objectGUID) the confirmation bound, pinned at its first activation. */
  directory_object_id: string | null;
}

export interface AccessRequestsTable {
  id: string;
  tenant_id: string;
  requester_id: string;
  target_id: string;
  policy_id: string;
  entitlements: string[];
  duration_seconds: number;
  reason: string;
  ticket: string | null;
  requested_start_at: NullableTimestamp;
  created_at: Timestamp;
  /** The requester's public key or CSR, for targets that issue certificates (migration 0008). */
  public_key: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface GrantsTable {
  id: string;
  policy_id: string | null;
  approval_level: ColumnType<number, number | undefined, number>;
  emergency: ColumnType<boolean, boolean | undefined, boolean>;
  extended_seconds: ColumnType<number, number | undefined, number>;
  tenant_id: string;
  request_id: string;
  jit_account_id: string;
  target_id: string;
  operator_id: string;
  entitlements: string[];
  state: string;
  version: number;
  duration_seconds: number;
  requested_start_at: NullableTimestamp;
  pending_expires_at: NullableTimestamp;
  starts_at: NullableTimestamp;
  expires_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  revoke_attempts: ColumnType<number, number | undefined, number>;
  end_reason: string | null;
  last_error: string | null;
  handle: Json;
  credential_enc: string | null;
  credential_revealed_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ScheduledWorkTable {
  id: Generated<string>;
  kind: string;
  grant_id: string;
  due_at: Timestamp;
  attempts: ColumnType<number, number | undefined, number>;
  locked_by: string | null;
  locked_until: NullableTimestamp;
  last_error: string | null;
  created_at: Timestamp;
}

export interface AuditEventsTable {
  /** Insertion id: unique and stable, not a chain position (gaps where a transaction rolled back). */
  seq: ColumnType<string, never, never>;
  id: string;
  at: Timestamp;
  tenant_id: string | null;
  actor_type: string;
  actor_id: string | null;
  action: string;
  subject_type: string;
  subject_id: string | null;
  reason: string | null;
  before: Json;
  after: Json;
  /** The writing transaction (xid8, as text); set by the database. */
  xid: ColumnType<string, never, never>;
  /** Chain columns: null until the sealer seals the event (src/audit/audit-sealer.ts). */
  chain_pos: ColumnType<string | null, never, string>;
  prev_hash: ColumnType<string | null, never, string>;
  hash: ColumnType<string | null, never, string>;
  sealed_at: ColumnType<Date | null, never, Date>;
}

/** A signed head of one chain (src/audit/checkpoints.ts). */
export interface AuditCheckpointsTable {
  id: ColumnType<string, never, never>;
  log_id: string;
  tenant_id: string | null;
  chain_pos: ColumnType<string, string, never>;
  hash: string;
  at: Timestamp;
  key_id: string;
  signature: string;
}

export interface AlertsTable {
  id: string;
  tenant_id: string;
  grant_id: string | null;
  severity: string;
  message: string;
  /** What raised it, for code that finds its own alerts again ('drift'); null for the rest (migration 0025). */
  kind: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  resolved_at: NullableTimestamp;
}

/** Per SIEM sink and audit chain (tenant id, or the zero uuid for the platform), the last position delivered. */
export interface SiemCursorsTable {
  sink: string;
  chain: string;
  chain_pos: string;
  updated_at: Date;
}

export interface SettingsTable {
  key: string;
  value: Json;
}

/** An operator's single-use recovery codes, stored as hashes only. */
export interface OperatorRecoveryCodesTable {
  operator_id: string;
  code_hash: string;
  created_at: Timestamp;
  used_at: NullableTimestamp;
}

/** Counters of rate-limited routes, shared by every server process (src/http/rate-limit-store.ts). */
export interface RateLimitsTable {
  key: string;
  count: number;
  reset_at: Timestamp;
}

export interface OperatorGroupsTable {
  id: string;
  tenant_id: string;
  name: string;
  created_at: Timestamp;
}

export interface OperatorGroupMembersTable {
  group_id: string;
  operator_id: string;
}

export interface GrantExtensionsTable {
  id: string;
  tenant_id: string;
  grant_id: string;
  requester_id: string;
  seconds: number;
  reason: string;
  state: 'pending' | 'approved' | 'denied' | 'cancelled';
  approval_level: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  decided_at: NullableTimestamp;
}

export interface ApprovalsTable {
  id: string;
  tenant_id: string;
  subject_type: 'grant' | 'extension';
  subject_id: string;
  grant_id: string;
  level: number;
  approver_id: string;
  decision: 'approve' | 'deny';
  reason: string | null;
  duration_seconds: number | null;
  start_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface ReviewsTable {
  id: string;
  tenant_id: string;
  grant_id: string;
  owed_since: Timestamp;
  reviewer_id: string | null;
  reviewed_at: NullableTimestamp;
  verdict: 'justified' | 'not_justified' | null;
  notes: string | null;
}

export interface TenantJitSettingsTable {
  tenant_id: string;
  target_id: string;
  enabled: boolean;
  allowed_groups: string[];
  creator_group_ids: string[];
  updated_at: Timestamp;
  updated_by: string | null;
}

export interface Database extends NotificationTables, CredentialTables, AgentTables, SsoTables, IdentityTables {
  rate_limits: RateLimitsTable;
  operator_recovery_codes: OperatorRecoveryCodesTable;
  tenant_jit_settings: TenantJitSettingsTable;
  operator_groups: OperatorGroupsTable;
  operator_group_members: OperatorGroupMembersTable;
  grant_extensions: GrantExtensionsTable;
  approvals: ApprovalsTable;
  reviews: ReviewsTable;
  tenants: TenantsTable;
  operators: OperatorsTable;
  memberships: MembershipsTable;
  api_tokens: ApiTokensTable;
  targets: TargetsTable;
  entitlements: EntitlementsTable;
  policies: PoliciesTable;
  jit_accounts: JitAccountsTable;
  access_requests: AccessRequestsTable;
  grants: GrantsTable;
  scheduled_work: ScheduledWorkTable;
  audit_events: AuditEventsTable;
  audit_checkpoints: AuditCheckpointsTable;
  alerts: AlertsTable;
  settings: SettingsTable;
  siem_cursors: SiemCursorsTable;
}

export type GrantRow = Selectable<GrantsTable>;
export type NewGrant = Insertable<GrantsTable>;
export type TargetRow = Selectable<TargetsTable>;
export type OperatorRow = Selectable<OperatorsTable>;
export type JitAccountRow = Selectable<JitAccountsTable>;
export type PolicyRow = Selectable<PoliciesTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type AuditCheckpointRow = Selectable<AuditCheckpointsTable>;
