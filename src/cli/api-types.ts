/** The shapes the CLI reads from the API (see src/http/routes/*.ts). */

export interface Membership {
  tenant: { id: string; slug: string; name: string };
  roles: string[];
}

export interface Me {
  operator: { id: string; email: string; displayName: string; platformAdmin: boolean };
  memberships: Membership[];
}

export interface Target {
  id: string;
  name: string;
  kind: string;
  createdAt: string;
  updatedAt: string;
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
  createdAt: string;
}

export interface Grant {
  id: string;
  state: string;
  targetId: string;
  targetName: string;
  operatorId: string;
  operatorEmail: string;
  username: string;
  entitlements: string[];
  reason: string;
  durationSeconds: number;
  requestedStartAt: string | null;
  startsAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  endReason: string | null;
  lastError: string | null;
  revokeAttempts: number;
  credentialAvailable: boolean;
  ticket: string | null;
  emergency: boolean;
  policyId: string | null;
  approvalLevel: number;
  createdAt: string;
}

export interface Credential {
  username: string;
  password: string | null;
  expiresAt: string | null;
  /** Targets that issue credentials: an SSH or X.509 certificate, a generated private key, a token. */
  certificate?: string;
  privateKey?: string;
  token?: string;
  caPublicKey?: string;
  connect: ConnectInfo | null;
}

export interface JitAccount {
  id: string;
  username: string;
  status: string;
  targetId: string;
  targetName: string;
  targetKind: string;
  canRotate: boolean;
  operatorId: string;
  operatorEmail: string;
  lastGrantId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AuditEvent {
  seq: string;
  id: string;
  at: string;
  tenant_id: string | null;
  actor_type: string;
  actor_id: string | null;
  action: string;
  subject_type: string;
  subject_id: string | null;
  reason: string | null;
  before: unknown;
  after: unknown;
  position: string | null;
  prev_hash: string | null;
  hash: string | null;
  sealed_at: string | null;
  sealed: boolean;
}

export interface VerifyReport {
  ok: boolean;
  logId: string;
  checked: number;
  unsealed: number;
  problems: { tenant_id: string | null; position: string | null; problem: string }[];
  truncated: boolean;
  chains: {
    tenant_id: string | null;
    events: number;
    head: { position: string; hash: string } | null;
    checkpoint: { position: string; at: string } | null;
  }[];
  checkpoints: { trusted: number; otherLogs: number; unknownKey: number };
  unreadableWitnessLines: number;
}

export interface ApiToken {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

export interface CreatedToken {
  id: string;
  name: string;
  token: string;
  expiresAt: string | null;
}

export interface Member {
  operator: { id: string; email: string; displayName: string; disabled: boolean };
  roles: string[];
  disabledHere?: boolean;
}

/** POST members: a role change of a member (200), or an invitation (201). */
export type AddedMember =
  | { operator: { id: string; email: string; displayName: string }; roles: string[] }
  | {
      invitation: { id: string; email: string; roles: string[]; expiresAt: string };
      delivery: 'email' | 'link';
      link: string | null;
    };

export interface OffboardingReport {
  sessionsAndTokensEnded: number;
  requestsCancelled: number;
  grantsRevoked: number;
  approvalsRerouted: number;
  approvalsFlagged: number;
}

// --- Approvals, extensions and the connect line (issue 14); converted to contract types at merge.

/** How to connect with a revealed credential (src/core/connect-info.ts). */
export interface ConnectInfo {
  host: string | null;
  port: number | null;
  database: string | null;
  domain: string | null;
  command: string | null;
  endsAt: string;
}

/** One entry of GET approvals: a request, or an extension of an active grant. */
export interface ApprovalItem {
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
  cannotDecide: string | null;
}

export interface ExtensionDecision {
  state: string;
  grant: Grant | null;
}

export interface ExtensionRequested {
  applied: boolean;
  extensionId: string;
  grant: Grant;
}
