/** What each role may do: a mirror of the server's table, used only to show or hide controls. */
import type { Role } from './types';

export type Permission =
  | 'members.manage'
  | 'targets.manage'
  | 'targets.read'
  | 'policies.manage'
  | 'policies.read'
  | 'requests.create'
  | 'grants.read_all'
  | 'grants.revoke_any'
  | 'approvals.decide'
  | 'audit.read';

const all: Permission[] = [
  'members.manage',
  'targets.manage',
  'targets.read',
  'policies.manage',
  'policies.read',
  'requests.create',
  'grants.read_all',
  'grants.revoke_any',
  'approvals.decide',
  'audit.read',
];

const byRole: Record<Role, readonly Permission[]> = {
  owner: all,
  admin: all,
  approver: ['targets.read', 'policies.read', 'requests.create', 'grants.read_all', 'approvals.decide'],
  requester: ['targets.read', 'policies.read', 'requests.create'],
  auditor: ['targets.read', 'policies.read', 'grants.read_all', 'audit.read'],
};

export const can = (roles: readonly Role[], p: Permission): boolean => roles.some((r) => byRole[r]?.includes(p));
