/** Which policies cover an ask, most specific first: the server's choice, mirrored for the form. */
import type { Policy, Role } from '../../src/api/types.js';

export interface AskWho {
  targetId: string;
  entitlements: string[];
  roles: readonly Role[];
  /** The person asking and their operator groups: policies may name requesters by person or group. */
  operatorId?: string;
  groupIds?: readonly string[];
}

export function policyFits(p: Policy, ask: AskWho): boolean {
  if (p.targetId && p.targetId !== ask.targetId) return false;
  if (p.entitlements && ask.entitlements.some((e) => !p.entitlements!.includes(e))) return false;
  const byRole = ask.roles.some((r) => p.requesterRoles.includes(r));
  const byPerson = !!ask.operatorId && (p.rules?.requesterOperatorIds ?? []).includes(ask.operatorId);
  const byGroup = (ask.groupIds ?? []).some((g) => (p.rules?.requesterGroupIds ?? []).includes(g));
  return byRole || byPerson || byGroup;
}

const specificity = (p: Policy) => (p.targetId ? 2 : 0) + (p.entitlements ? 1 : 0);

export function fittingPolicies(policies: Policy[], ask: AskWho): Policy[] {
  return policies.filter((p) => policyFits(p, ask)).sort((a, b) => specificity(b) - specificity(a) || a.name.localeCompare(b.name));
}
