/**
 * Allowed names on PostgreSQL. Allow-listed syntax is the first line of defence; every SQL
 * statement still quotes identifiers and literals (the second line).
 */

import type { AccountNameRules } from '../../core/target-kinds.js';

const MAX = 63; // NAMEDATALEN - 1: PostgreSQL silently truncates longer names.

/**
 * Names PostgreSQL refuses for roles (`public`, `none`: 42939), role-spec keywords that would mean
 * someone else in GRANT/ALTER (`current_user`, `session_user`, `current_role`, `user`, `all`), and
 * the other reserved SQL keywords (pg_get_keywords() catcode 'R'), which a DBA could only type
 * quoted. `pg_*` is refused separately.
 */
export const RESERVED_ROLE_NAMES: ReadonlySet<string> = new Set(
  (
    'public none all current_user session_user current_role user system_user ' +
    'analyse analyze and any array as asc asymmetric both case cast check collate column constraint create ' +
    'current_catalog current_date current_time current_timestamp default deferrable desc distinct do else end ' +
    'except false fetch for foreign from grant group having in initially intersect into lateral leading limit ' +
    'localtime localtimestamp not null offset on only or order placing primary references returning select ' +
    'some symmetric table then to trailing true union unique using variadic when where window with'
  ).split(' '),
);

/** What validateAccountName checks, as data for forms. */
export const accountNameRules: AccountNameRules = {
  minLength: 3,
  maxLength: MAX,
  pattern: '^[a-z][a-z0-9_]*$',
  reserved: [...RESERVED_ROLE_NAMES],
  reservedPrefixes: ['pg_'],
  hint: `3 to ${MAX} lowercase letters, digits and underscores, starting with a letter, such as ann_jit.`,
};

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
  if (RESERVED_ROLE_NAMES.has(name)) {
    return `"${name}" is a name PostgreSQL reserves (a keyword or special role name) and cannot be a JIT account; choose a personal name such as "ann_jit"`;
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
