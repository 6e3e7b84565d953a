/** Read-only questions to the PostgreSQL catalog about roles. Values always go as parameters. */
import type pg from 'pg';
import { type AccountOwner, type AccountStatus, ownershipOf } from '../../core/account-ownership.js';

/** Comment prefix that marks a role as created (and so changeable) by Timebox. */
export const JIT_MARKER = 'Timebox JIT account';

export interface RoleInfo {
  name: string;
  canLogin: boolean;
  comment: string | null;
  /** VALID UNTIL; null when there is none (or it is 'infinity'): the password never expires. */
  validUntil: Date | null;
  /**
   * Carries a built-in role that reaches the host's operating system (HOST_ACCESS_ROLES); read
   * only when asked for (`findRoles(…, { hostAccess: true })`), false otherwise.
   */
  hostAccess: boolean;
}

/**
 * Built-in roles that reach the database host's operating system as its service user: running
 * programs, reading and writing any file. A group role that carries one, directly or through other
 * roles, would make a JIT database grant a shell on the host, so it is never an entitlement.
 */
export const HOST_ACCESS_ROLES = ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'];
/** SQL: the pg_roles row `role` (an oid) carries one of the roles in the text[] parameter `$param`. */
export const carriesHostAccess = (role: string, param: string) =>
  `EXISTS (SELECT 1 FROM unnest(${param}::text[]) AS h(name) WHERE pg_has_role(${role}, h.name, 'MEMBER'))`;

export const isTimeboxRole = (role: RoleInfo) => role.comment?.startsWith(JIT_MARKER) ?? false;

/** Whose role this is: only a comment naming `owner` (JIT account + installation) makes it ours. */
export const roleOwnership = (role: RoleInfo | null, owner: AccountOwner): AccountStatus =>
  role ? ownershipOf(JIT_MARKER, role.comment, owner) : { status: 'free' };

/** `hostAccess`: also whether each carries HOST_ACCESS_ROLES (only a grant's entitlements need it). */
export async function findRoles(c: pg.ClientBase, names: string[], opts: { hostAccess?: boolean } = {}): Promise<Map<string, RoleInfo>> {
  const { rows } = await c.query<{ name: string; can_login: boolean; comment: string | null; valid_until: Date | null; host_access: boolean }>(
    `SELECT rolname::text AS name, rolcanlogin AS can_login, shobj_description(oid, 'pg_authid') AS comment,
            CASE WHEN isfinite(rolvaliduntil) THEN rolvaliduntil END AS valid_until,
            ${opts.hostAccess ? carriesHostAccess('oid', '$2') : 'false'} AS host_access
       FROM pg_roles WHERE rolname::text = ANY($1::text[])`,
    opts.hostAccess ? [names, HOST_ACCESS_ROLES] : [names],
  );
  return new Map(
    rows.map((r) => [r.name, { name: r.name, canLogin: r.can_login, comment: r.comment, validUntil: r.valid_until, hostAccess: r.host_access }]),
  );
}

export async function findRole(c: pg.ClientBase, name: string): Promise<RoleInfo | null> {
  return (await findRoles(c, [name])).get(name) ?? null;
}

/** Which of `groups` the role is directly a member of. */
export async function memberships(c: pg.ClientBase, role: string, groups: string[]): Promise<string[]> {
  if (groups.length === 0) return [];
  const { rows } = await c.query<{ name: string }>(
    `SELECT g.rolname::text AS name
       FROM pg_auth_members m
       JOIN pg_roles g ON g.oid = m.roleid
       JOIN pg_roles u ON u.oid = m.member
      WHERE u.rolname::text = $1 AND g.rolname::text = ANY($2::text[])
      ORDER BY 1`,
    [role, groups],
  );
  return rows.map((r) => r.name);
}

/** Every role the role is directly a member of (whoever granted it). */
export async function allMemberships(c: pg.ClientBase, role: string): Promise<string[]> {
  const { rows } = await c.query<{ name: string }>(
    `SELECT g.rolname::text AS name
       FROM pg_auth_members m
       JOIN pg_roles g ON g.oid = m.roleid
       JOIN pg_roles u ON u.oid = m.member
      WHERE u.rolname::text = $1
      ORDER BY 1`,
    [role],
  );
  return rows.map((r) => r.name);
}

/** Sessions authenticated as the role, other than ours. */
export async function liveSessions(c: pg.ClientBase, role: string): Promise<number> {
  const { rows } = await c.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename::text = $1 AND pid <> pg_backend_pid()`,
    [role],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Ends every session of the role and waits (up to 5 s each) until they are gone: a session keeps
 * what it had (SET ROLE, open transactions) after its role loses LOGIN or memberships.
 * Returns how many remain, which should be 0.
 */
export async function terminateSessions(c: pg.ClientBase, role: string): Promise<number> {
  await c.query(
    `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename::text = $1 AND pid <> pg_backend_pid()`,
    [role],
  );
  return liveSessions(c, role);
}
