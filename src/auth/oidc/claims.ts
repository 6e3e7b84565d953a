/**
 * Pure: what validated ID-token claims mean for one tenant — the email, whether the provider
 * vouches for it, the IdP groups, and the tenant roles and operator groups they map to.
 */
import type { Role } from '../../core/roles.js';
import { findTextProblem } from '../../core/text.js';
import type { SsoSettingsView } from './sso-settings.js';

export interface SsoIdentity {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  displayName: string | null;
  idpGroups: string[];
  /** Tenant roles the mapping gives; empty: this person may not sign in to the tenant. */
  roles: Role[];
  /** Operator groups (by name) mapped at all, and those this person belongs in. */
  mappedOperatorGroups: string[];
  operatorGroups: string[];
}

const asString = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);

/**
 * A name as people's names must be (no controls, bidi or invisible characters, at most 200): one
 * that is not is dropped (the email stands in), so a provider cannot make one person look like
 * another in the dashboard.
 */
function acceptableName(v: unknown): string | null {
  const s = asString(v);
  return s !== null && s.length <= 200 && findTextProblem(s, 'name') === null ? s : null;
}

/** Groups come as an array of strings, one string, or (some providers) space-separated. */
function groupsOf(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((g): g is string => typeof g === 'string');
  if (typeof v === 'string') return [v];
  return [];
}

/** Providers send a boolean; a few send the string "true". Anything else is "not verified". */
const verified = (v: unknown) => v === true || v === 'true';

export function interpretClaims(settings: Pick<SsoSettingsView, 'emailClaim' | 'emailVerifiedClaim' | 'groupsClaim' | 'roleMappings' | 'groupMappings'>, subject: string, claims: Record<string, unknown>): SsoIdentity {
  const idpGroups = groupsOf(claims[settings.groupsClaim]);
  const member = new Set(idpGroups);
  const roles = new Set<Role>();
  for (const m of settings.roleMappings) if (member.has(m.group)) for (const r of m.roles) roles.add(r);
  const operatorGroups = new Set<string>();
  for (const m of settings.groupMappings) if (member.has(m.group)) operatorGroups.add(m.operatorGroup);
  return {
    subject,
    email: asString(claims[settings.emailClaim])?.toLowerCase() ?? null,
    emailVerified: verified(claims[settings.emailVerifiedClaim]),
    displayName: acceptableName(claims.name) ?? acceptableName(claims.preferred_username),
    idpGroups,
    roles: [...roles],
    mappedOperatorGroups: [...new Set(settings.groupMappings.map((m) => m.operatorGroup))],
    operatorGroups: [...operatorGroups],
  };
}
