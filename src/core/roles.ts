/**
 * Roles an operator holds per tenant, and what each allows. Roles are additive.
 * The seeds' Primary/Super map to owner/admin, Manager to approver, Technician to requester.
 */
export const roles = ['owner', 'admin', 'approver', 'requester', 'auditor'] as const;
export type Role = (typeof roles)[number];

export const permissions = [
  'members.manage',
  'owners.manage',
  'targets.manage',
  'targets.read',
  'policies.manage',
  'policies.read',
  'requests.create',
  'grants.read_all',
  'grants.revoke_any',
  'approvals.decide',
  'audit.read',
] as const;
export type Permission = (typeof permissions)[number];

const byRole: Record<Role, readonly Permission[]> = {
  owner: permissions,
  admin: permissions.filter((p) => p !== 'owners.manage'),
  approver: ['targets.read', 'policies.read', 'requests.create', 'grants.read_all', 'approvals.decide'],
  requester: ['targets.read', 'policies.read', 'requests.create'],
  auditor: ['targets.read', 'policies.read', 'grants.read_all', 'audit.read'],
};

export function can(held: readonly string[], permission: Permission): boolean {
  return held.some((r) => (byRole as Record<string, readonly Permission[] | undefined>)[r]?.includes(permission));
}

export function isRole(s: string): s is Role {
  return (roles as readonly string[]).includes(s);
}

/** Roles in a tenant as held: membership roles, plus owner for platform administrators (owners of every tenant). */
export function effectiveRoles(memberRoles: readonly string[] | null, platformAdmin: boolean): Role[] {
  const held = (memberRoles ?? []).filter(isRole);
  return platformAdmin && !held.includes('owner') ? ['owner', ...held] : held;
}
