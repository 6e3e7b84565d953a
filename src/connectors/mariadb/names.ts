/**
 * Allowed names on MariaDB. Allow-listed syntax is the first line of defence; every statement
 * still quotes names as string literals or backquoted identifiers (the second).
 */

import type { AccountNameRules } from '../../core/target-kinds.js';

/** MariaDB's limit for user and role names; MySQL's is 32 (see docs/targets/mariadb.md). */
export const MAX_NAME = 80;

/**
 * Accounts that exist on every server or are keywords where an account is expected (`CURRENT_USER`,
 * `PUBLIC`, `NONE`...). `mysql*` and `mariadb*` are refused as a prefix: the server's own accounts
 * (mysql.sys, mariadb.sys, mysql.session) live there.
 */
export const RESERVED_ACCOUNT_NAMES: ReadonlySet<string> = new Set(
  ('root public none all current_user current_role user role default admin debian_sys_maint healthcheck ' +
    'replication repl monitor proxy event sys').split(' '),
);

/** What validateAccountName checks, as data for forms. */
export const accountNameRules: AccountNameRules = {
  minLength: 3,
  maxLength: MAX_NAME,
  pattern: '^[a-z][a-z0-9_]*$',
  reserved: [...RESERVED_ACCOUNT_NAMES],
  reservedPrefixes: ['mysql', 'mariadb'],
  hint: `3 to ${MAX_NAME} lowercase letters, digits and underscores, starting with a letter, such as ann_jit.`,
};

export function validateAccountName(name: string): string | null {
  if (name.length < 3 || name.length > MAX_NAME) {
    return `Account names must be 3 to ${MAX_NAME} characters long (got ${name.length}: ${JSON.stringify(name)})`;
  }
  if (!/^[a-z][a-z0-9_]*$/.test(name)) {
    return `Account names may only contain lowercase letters, digits and underscores, starting with a letter (got ${JSON.stringify(name)})`;
  }
  if (name.startsWith('mysql') || name.startsWith('mariadb')) {
    return `Account names may not start with "mysql" or "mariadb", which the server reserves (got ${JSON.stringify(name)})`;
  }
  if (RESERVED_ACCOUNT_NAMES.has(name)) {
    return `"${name}" is an account or keyword MariaDB reserves and cannot be a JIT account; choose a personal name such as "ann_jit"`;
  }
  return null;
}

/** Entitlements are existing roles; `PUBLIC` and `NONE` mean something else in GRANT and SET ROLE. */
export function validateEntitlementName(name: string): string | null {
  if (name.length < 1 || name.length > MAX_NAME) {
    return `Role names must be 1 to ${MAX_NAME} characters long (got ${name.length}: ${JSON.stringify(name)})`;
  }
  if (!/^[A-Za-z][A-Za-z0-9_.-]*$/.test(name)) {
    return `Role names may only contain letters, digits, underscores, dots and hyphens, starting with a letter (got ${JSON.stringify(name)})`;
  }
  if (/^(public|none)$/i.test(name)) return `"${name}" is not a role Timebox can grant`;
  return null;
}
