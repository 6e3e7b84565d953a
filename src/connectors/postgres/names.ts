/**
 * Allowed names on PostgreSQL. Allow-listed syntax is the first line of defence; every SQL
 * statement still quotes identifiers and literals (the second line).
 */

const MAX = 63; // NAMEDATALEN - 1: PostgreSQL silently truncates longer names.

/** JIT accounts: unquoted-identifier style, so a DBA can type them without quotes. */
export function validateAccountName(name: string): string | null {
  if (name.length < 3 || name.length > MAX) {
    return `Account names must be 3 to ${MAX} characters long (got ${name.length}: ${JSON.stringify(name)})`;
  }
  if (!/^[a-z0-9_]+$/.test(name)) {
    return `Account names may only contain lowercase letters, digits and underscores (got ${JSON.stringify(name)})`;
  }
  if (!/^[a-z]/.test(name)) {
    return `Account names must start with a lowercase letter (got ${JSON.stringify(name)})`;
  }
  if (name.startsWith('pg_')) {
    return `Account names may not start with "pg_", which PostgreSQL reserves (got ${JSON.stringify(name)})`;
  }
  return null;
}

/** Entitlements are existing group roles; DBAs name those more freely. */
export function validateEntitlementName(name: string): string | null {
  if (name.length < 1 || name.length > MAX) {
    return `Role names must be 1 to ${MAX} characters long (got ${name.length}: ${JSON.stringify(name)})`;
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    return `Role names may only contain letters, digits, underscores, dots and hyphens (got ${JSON.stringify(name)})`;
  }
  return null;
}

/** Same syntax as validateEntitlementName, for SQL filters (POSIX regex). */
export const ENTITLEMENT_NAME_REGEX = '^[A-Za-z0-9_.-]{1,63}$';
