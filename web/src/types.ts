/** What the API returns, as the dashboard uses it (see /api/openapi.json for the full shapes). */

export type Role = 'owner' | 'admin' | 'approver' | 'requester' | 'auditor';

export interface Operator {
  id: string;
  email: string;
  displayName: string;
  platformAdmin: boolean;
  mfaEnabled?: boolean;
  /** A password someone else set: the dashboard asks for a new one before anything else. */
  passwordChangeRequired?: boolean;
}

export interface Me {
  operator: Operator;
  memberships: { tenant: { id: string; slug: string; name: string }; roles: Role[] }[];
  /** The credential of the request: this browser session, and when it ends. */
  session: { kind: 'session' | 'api'; expiresAt: string | null };
}

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  roles: Role[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type GrantState =
  | 'requested'
  | 'approved'
  | 'activating'
  | 'active'
  | 'revoking'
  | 'revoked'
  | 'revoke_failed'
  | 'denied'
  | 'cancelled'
  | 'expired'
  | 'failed';

export interface Grant {
  id: string;
  state: GrantState;
  targetId: string;
  targetName: string;
  operatorId: string;
  operatorEmail: string;
  username: string;
  entitlements: string[];
  reason: string;
  durationSeconds: number;
  requestedStartAt?: string | null;
  startsAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  endReason: string | null;
  lastError: string | null;
  credentialAvailable: boolean;
  createdAt: string;
  /** Not in the API's grant yet (see the report); shown when a server sends them. */
  ticket?: string | null;
  emergency?: boolean;
  policyId?: string | null;
  approvalLevel?: number;
}

export interface JitAccount {
  id: string;
  username: string;
  status: string;
  targetId: string;
  targetName: string;
  targetKind: string;
  /** The target can rotate this account's password (while a grant enables it). */
  canRotate: boolean;
  operatorId: string;
  operatorEmail: string;
  lastGrantId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Target {
  id: string;
  name: string;
  kind: string;
  /** 'requester': the credential names the requester (their e-mail); there is no username to choose. */
  accountName: 'per-person' | 'requester';
  createdAt: string;
  updatedAt: string;
  /** The last connection test; null before any. */
  lastCheck: { ok: boolean; at: string; items: CheckReport['items'] } | null;
  /** The last test failed (saved anyway, or failing since). */
  broken: boolean;
}

/** The part of JSON Schema the target forms read (GET /target-kinds). */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  examples?: unknown[];
  /** A secret: never shown back, blank keeps it when editing. */
  writeOnly?: boolean;
  /** A form hint: 'pem', 'lines', or the name of a custom field component. */
  'x-widget'?: string;
  /** Shown under "Advanced settings". */
  'x-advanced'?: boolean;
}

/** A target kind as the server declares it (GET /target-kinds). */
export interface TargetKindInfo {
  kind: string;
  label: string;
  help: string;
  accountName: 'per-person' | 'requester';
  capabilities: { nativeExpiry: boolean; endsSessions: boolean; canRotate: boolean; jitAccounts: boolean };
  accountNameRules: { minLength: number; maxLength: number; pattern: string; reserved: string[]; reservedPrefixes: string[]; hint: string };
  configSchema: JsonSchema;
}

export interface CheckReport {
  ok: boolean;
  items: { name: string; ok: boolean; message: string }[];
}

export interface Entitlement {
  externalId: string;
  displayName: string;
  description?: string;
}

export interface Policy {
  id: string;
  name: string;
  targetId: string | null;
  entitlements: string[] | null;
  requesterRoles: string[];
  maxDurationSeconds: number;
  defaultDurationSeconds: number;
  reasonMinLength: number;
  pendingTtlSeconds: number;
  rules?: PolicyRules;
  createdAt: string;
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const weekdays: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export interface AccessWindow {
  timeZone: string;
  days: Weekday[];
  from: string;
  to: string;
  dates?: { from: string; to: string };
}

export interface ApprovalLevel {
  name?: string;
  approverIds: string[];
  groupIds: string[];
  quorum: number;
}

export interface AutoApproveRule {
  name: string;
  requesterGroupIds?: string[];
  maxDurationSeconds?: number;
  windows?: AccessWindow[];
}

/** A policy's `rules` (src/core/policy-rules.ts), as the server returns them (defaults filled in). */
export interface PolicyRules {
  requesterOperatorIds: string[];
  requesterGroupIds: string[];
  ticket?: { required: boolean; pattern?: string };
  windows: AccessWindow[];
  maxConcurrentGrants?: number;
  maxScheduleAheadDays: number;
  extension?: { allowed: boolean; maxTotalSeconds: number; selfApprove: boolean };
  approvalLevels: ApprovalLevel[];
  autoApprove: AutoApproveRule[];
  breakGlass: { allowed: boolean };
  mfa: { request: boolean; approve: boolean; reveal: boolean };
}

export interface Group {
  id: string;
  name: string;
  memberIds: string[];
  createdAt: string;
}

export interface InboxItem {
  kind: 'request' | 'extension';
  extensionId: string | null;
  extensionSeconds: number | null;
  extensionReason: string | null;
  grant: Grant;
  level: number;
  levels: number;
  quorum: number;
  approvals: number;
  acted: { approverId: string; approverEmail: string; decision: string; level: number; at: string }[];
  /** Null when the viewer may decide now; otherwise the server's reason why not. */
  cannotDecide: string | null;
}

export interface Simulation {
  policy: string | null;
  route: string;
  refusals: string[];
  autoApprovedBy: string | null;
  approvalLevels: { level: number; quorum: number; approvers: string[] }[];
}

export interface NotificationSettings {
  smtp: { host: string; port: number; secure: boolean; requireTls: boolean; username: string | null; from: string; passwordSet: boolean } | null;
  expiryWarningSeconds: number;
  updatedAt: string | null;
}

export interface Webhook {
  id: string;
  name: string;
  url: string;
  format: 'slack' | 'teams' | 'generic';
  events: string[];
  enabled: boolean;
  createdAt: string;
}

export interface AuditEvent {
  seq: string;
  id: string;
  at: string;
  actor_type: string;
  actor_id: string | null;
  action: string;
  subject_type: string;
  subject_id: string | null;
  reason: string | null;
  before: unknown;
  after: unknown;
  /** Position in the tenant's hash chain; null for a moment after commit, until sealed. */
  position: string | null;
  sealed: boolean;
  /** The names behind the ids (null when unknown or gone); see issue-14 types below. */
  names?: AuditNames;
}

export interface Member {
  operator: { id: string; email: string; displayName: string; disabled: boolean };
  roles: Role[];
}

/** POST …/grants/:id/credential: a password, or what certificate and token targets issue. */
export interface Credential {
  username: string;
  password: string | null;
  expiresAt: string | null;
  certificate?: string;
  /** Only when Timebox generated the key pair (no public key was given); shown once. */
  privateKey?: string;
  token?: string;
  /** The CA's public key (SSH) or certificate (X.509) that relying parties trust. */
  caPublicKey?: string;
  connect?: ConnectInfo;
}

/** POST …/jit-accounts/:id/rotate */
export interface RotatedPassword {
  accountId: string;
  grantId: string;
  username: string;
  password: string;
  connect?: ConnectInfo;
}

/* The fleet of Linux endpoint agents, break-glass reviews and alerts. */

/** What an agent's heartbeat reports (counts and versions only). */
export interface AgentHealth {
  appliedVersion?: number;
  grants?: Record<string, number>;
  failing?: number;
  journalBacklog?: number;
}

export interface Agent {
  id: string;
  name: string;
  hostname: string;
  version: string;
  enrolledAt: string;
  lastSeenAt: string | null;
  health: AgentHealth | null;
  revoked: boolean;
  revokedAt: string | null;
  desiredVersion: number;
  appliedVersion: number;
}

/** POST …/agents/enrolment-tokens: the token is in this answer only. */
export interface EnrolmentToken {
  id: string;
  name: string | null;
  token: string;
  expiresAt: string;
}

/** GET …/reviews: a break-glass grant and its after-the-fact review. */
export interface Review {
  grantId: string;
  requesterEmail: string;
  reason: string;
  owedSince: string;
  reviewerId: string | null;
  reviewedAt: string | null;
  verdict: 'justified' | 'not_justified' | null;
  notes: string | null;
}

/** GET …/alerts */
export interface Alert {
  id: string;
  grantId: string | null;
  severity: string;
  message: string;
  createdAt: string;
  resolvedAt: string | null;
}

/* Added for the approver's loop, the connect line and the audit names (to be inferred from the API contract). */

/** How to connect with a revealed credential (src/core/connect-info.ts). */
export interface ConnectInfo {
  host: string | null;
  port: number | null;
  database: string | null;
  domain: string | null;
  command: string | null;
  endsAt: string;
}

/** GET …/audit: who and what an event is about, by name. */
export interface AuditNames {
  actor: string | null;
  person: string | null;
  target: string | null;
  account: string | null;
  subject: string | null;
}
