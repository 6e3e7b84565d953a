/** Read-only questions to the server about users, roles and sessions. Values always go as parameters. */
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { type AccountOwner, type AccountStatus, ownershipOf } from '../../core/account-ownership.js';
import { STATEMENT_TIMEOUT_MS } from './config.js';
import { ident } from './sql.js';

/** Prefix of the marker row that makes an account Timebox's (MariaDB users have no comment). */
export const JIT_MARKER = 'Timebox JIT account';

export async function rows<T>(c: PoolConnection, sql: string, values: unknown[] = []): Promise<T[]> {
  const [out] = await c.query<RowDataPacket[]>({ sql, values, timeout: STATEMENT_TIMEOUT_MS });
  return out as unknown as T[];
}
export async function exec(c: PoolConnection, sql: string): Promise<void> {
  await c.query({ sql, timeout: STATEMENT_TIMEOUT_MS });
}

export interface UserInfo {
  host: string;
  isRole: boolean;
  locked: boolean;
}

/** Every user or role row with this name (one per host pattern). */
export async function findUsers(c: PoolConnection, name: string): Promise<UserInfo[]> {
  const found = await rows<{ host: string; is_role: string | null; locked: string | null }>(
    c,
    `SELECT Host AS host, JSON_VALUE(Priv, '$.is_role') AS is_role, JSON_VALUE(Priv, '$.account_locked') AS locked
       FROM mysql.global_priv WHERE User = ?`,
    [name],
  );
  // JSON_VALUE gives a JSON true as '1'.
  const yes = (v: string | null) => v === '1' || v === 'true';
  return found.map((r) => ({ host: r.host, isRole: yes(r.is_role), locked: yes(r.locked) }));
}

export async function findMarker(c: PoolConnection, schema: string, name: string): Promise<string | null> {
  const found = await rows<{ marker: string }>(c, `SELECT marker FROM ${ident(schema)}.jit_accounts WHERE user = ?`, [name]);
  return found[0]?.marker ?? null;
}

/** Free, this JIT account's, or someone else's: a role, or a user whose marker does not name `owner`. */
export async function accountOwnership(
  c: PoolConnection,
  schema: string,
  name: string,
  owner: AccountOwner,
  known?: UserInfo[],
): Promise<AccountStatus> {
  // `known`: the user rows the caller already read under its lock (one round trip fewer).
  const users = known ?? (await findUsers(c, name));
  if (users.length === 0) return { status: 'free' };
  if (users.some((u) => u.isRole)) return { status: 'foreign', reason: 'not_an_account' };
  return ownershipOf(JIT_MARKER, await findMarker(c, schema, name), owner);
}

/** Roles the user holds directly, among `roles`. */
export async function heldRoles(c: PoolConnection, user: string, host: string, roles: string[]): Promise<string[]> {
  if (roles.length === 0) return [];
  const found = await rows<{ role: string }>(
    c,
    'SELECT Role AS role FROM mysql.roles_mapping WHERE User = ? AND Host = ? AND Role IN (?) ORDER BY Role',
    [user, host, roles],
  );
  return found.map((r) => r.role);
}

/**
 * Global privileges that reach the database host rather than its data: FILE reads and writes
 * files as the server's own user (LOAD DATA INFILE, SELECT … INTO OUTFILE); SUPER changes
 * server variables such as the log files' paths. Bits of `mysql.global_priv`'s `access`.
 */
export const HOST_ACCESS_PRIVILEGES = { FILE: 1 << 9, SUPER: 1 << 15 } as const;
const HOST_ACCESS_MASK = Object.values(HOST_ACCESS_PRIVILEGES).reduce((a, b) => a | b, 0);

export interface GrantableRole {
  role: string;
  /**
   * Carries a host-reaching privilege, itself or through roles granted to it: never offered,
   * never granted (a JIT grant of it would be access to the database host's files under a
   * database role's name).
   */
  reachesHost: boolean;
}

/** Roles the service account may hand out (those it holds WITH ADMIN OPTION), in one read. */
export async function grantableRoles(c: PoolConnection): Promise<GrantableRole[]> {
  const found = await rows<{ role: string; reaches_host: number | string | null }>(
    c,
    `WITH RECURSIVE reach (top, r) AS (
       SELECT Role, Role FROM mysql.roles_mapping
        WHERE User = SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AND Host = SUBSTRING_INDEX(CURRENT_USER(), '@', -1) AND Admin_option = 'Y'
       UNION
       SELECT reach.top, m.Role FROM reach JOIN mysql.roles_mapping m ON m.User = reach.r AND m.Host = ''
     )
     SELECT reach.top AS role, MAX((CAST(JSON_VALUE(g.Priv, '$.access') AS UNSIGNED) & ?) <> 0) AS reaches_host
       FROM reach LEFT JOIN mysql.global_priv g ON g.User = reach.r AND g.Host = ''
      GROUP BY reach.top
      ORDER BY reach.top`,
    [HOST_ACCESS_MASK],
  );
  return found.map((r) => ({ role: r.role, reachesHost: Number(r.reaches_host) === 1 }));
}

/**
 * The user's sessions. Compared as bytes: PROCESSLIST.USER has a case- and accent-insensitive
 * collation, so `USER = 'ann_jit'` would also find (and a revoke would kill) sessions of another
 * user named `ANN_JIT` or `ánn_jit`.
 */
export async function sessionIds(c: PoolConnection, user: string): Promise<number[]> {
  const found = await rows<{ id: number }>(
    c,
    'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE CAST(USER AS BINARY) = CAST(? AS BINARY) AND ID <> CONNECTION_ID()',
    [user],
  );
  return found.map((r) => Number(r.id));
}

/**
 * Ends every session of the user and waits (up to 5 s) until they are gone: a session keeps its
 * roles after they are revoked. Returns how many remain, which should be 0.
 */
export async function killSessions(c: PoolConnection, user: string): Promise<number> {
  const ids = await sessionIds(c, user);
  // None open: nothing to wait for (the account is locked by now; verify looks again).
  if (ids.length === 0) return 0;
  for (const id of ids) {
    try {
      await exec(c, `KILL CONNECTION ${Number(id)}`);
    } catch (err) {
      // Gone in between: that is what we wanted.
      if ((err as { code?: string }).code !== 'ER_NO_SUCH_THREAD') throw err;
    }
  }
  const deadline = Date.now() + 5_000;
  for (;;) {
    const left = (await sessionIds(c, user)).length;
    if (left === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every role granted to the user (whoever granted it). */
export async function allRoles(c: PoolConnection, user: string, host: string): Promise<string[]> {
  const found = await rows<{ role: string }>(c, 'SELECT Role AS role FROM mysql.roles_mapping WHERE User = ? AND Host = ? ORDER BY Role', [user, host]);
  return found.map((r) => r.role);
}

/** When a one-time event runs (its schedule, read as UTC: Timebox creates them in UTC), or null if none. */
export async function eventRunsAt(c: PoolConnection, schema: string, name: string): Promise<Date | null> {
  const found = await rows<{ at: string | null; tz: string | null }>(
    c,
    'SELECT EXECUTE_AT AS at, TIME_ZONE AS tz FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND EVENT_NAME = ?',
    [schema, name],
  );
  const at = found[0]?.at;
  if (!at) return null;
  // An event re-created by hand in another time zone is read as UTC: at worst a finding that repairs it.
  const parsed = new Date(`${String(at).replace(' ', 'T')}Z`);
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}

export async function eventExists(c: PoolConnection, schema: string, name: string): Promise<boolean> {
  const found = await rows(c, 'SELECT 1 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND EVENT_NAME = ?', [schema, name]);
  return found.length > 0;
}
