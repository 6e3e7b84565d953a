/** What the API returns, as the dashboard uses it (see /api/openapi.json for the full shapes). */

export type Role = 'owner' | 'admin' | 'approver' | 'requester' | 'auditor';

export interface Operator {
  id: string;
  email: string;
  displayName: string;
  platformAdmin: boolean;
}

export interface Me {
  operator: Operator;
  memberships: { tenant: { id: string; slug: string; name: string }; roles: Role[] }[];
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
  | 'expired';

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
  startsAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  endReason: string | null;
  lastError: string | null;
  credentialAvailable: boolean;
  createdAt: string;
}

export interface JitAccount {
  id: string;
  username: string;
  status: string;
  targetId: string;
  targetName: string;
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
}

export interface Member {
  operator: { id: string; email: string; displayName: string; disabled: boolean };
  roles: Role[];
}

export interface Credential {
  username: string;
  password: string | null;
  expiresAt: string | null;
}
