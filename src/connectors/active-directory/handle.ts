/** What a grant leaves behind for revoke and verify: JSON only, checked again when read back. */
import { z } from 'zod';
import { invalid, refused } from '../../core/errors.js';
import { normalizeDn } from './dn.js';
import { validateAccountName, validateEntitlementName } from './names.js';

export const handleSchema = z.object({
  username: z.string(),
  /** Where the account was at grant time; lookups use the sAMAccountName (accounts can move). */
  dn: z.string().optional(),
  /** Group DNs, as the entitlements were named in the grant. */
  entitlements: z.array(z.string()),
  /** The user's objectGUID (hex), for group membership of an existing user. */
  objectGuid: z.string().optional(),
});
export type AdHandle = z.infer<typeof handleSchema>;

/** Refuses bad names before any LDAP call, with the same messages as at grant time. */
export function checkNames(username: string, groups: string[]): void {
  const problem = validateAccountName(username) ?? groups.map(validateEntitlementName).find((m) => m !== null);
  if (problem) throw refused('name_invalid', problem);
}

export function parseHandle(raw: Record<string, unknown>): AdHandle {
  const parsed = handleSchema.safeParse(raw);
  if (!parsed.success) throw invalid(`not an Active Directory grant handle: ${parsed.error.message}`);
  checkNames(parsed.data.username, parsed.data.entitlements);
  return parsed.data;
}

/** The same group named twice (any case or escaping) is granted once; the first spelling wins. */
export function uniqueGroups(groups: string[]): string[] {
  const seen = new Set<string>();
  return groups.filter((g) => {
    const key = normalizeDn(g);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
