/** Which policies cover an ask, most specific first: the server's choice, mirrored for the form. */
import type { Policy, Role } from './types';

export function policyFits(p: Policy, ask: { targetId: string; entitlements: string[]; roles: readonly Role[] }): boolean {
  if (p.targetId && p.targetId !== ask.targetId) return false;
  if (p.entitlements && ask.entitlements.some((e) => !p.entitlements!.includes(e))) return false;
  return ask.roles.some((r) => p.requesterRoles.includes(r));
}

const specificity = (p: Policy) => (p.targetId ? 2 : 0) + (p.entitlements ? 1 : 0);

export function fittingPolicies(policies: Policy[], ask: { targetId: string; entitlements: string[]; roles: readonly Role[] }): Policy[] {
  return policies.filter((p) => policyFits(p, ask)).sort((a, b) => specificity(b) - specificity(a) || a.name.localeCompare(b.name));
}
