/**
 * Grant, revoke, verify and rotate a per-person JIT login role. DDL cannot take parameters, so
 * names are allow-listed first and then always quoted (escapeIdentifier / escapeLiteral).
 */
import pg from 'pg';
import { z } from 'zod';
import { type AccountOwner, type AccountStatus, describeForeign, ownerTag } from '../../core/account-ownership.js';
import { invalid, refused, transient } from '../../core/errors.js';
import { type Finding, expiryFinding, findings as finding } from '../../core/findings.js';
import type { GrantSpec, RevokeSpec, VerifyResult } from '../contract.js';
import {
  HOST_ACCESS_ROLES, JIT_MARKER, type RoleInfo, allMemberships, findRole, findRoles, isTimeboxRole, liveSessions, memberships, roleOwnership, terminateSessions,
} from './catalog.js';
import { validateAccountName, validateEntitlementName } from './names.js';
import { scramSha256Verifier } from './scram.js';
import { inTransaction, withClient } from './session.js';

const ident = pg.escapeIdentifier;
const lit = pg.escapeLiteral;
const timestamp = (d: Date) => lit(d.toISOString());
/** VALID UNTIL for a disabled account: long past, so it is refused even if LOGIN is restored by hand. */
const PAST = new Date(0);

export const handleSchema = z.object({ username: z.string(), entitlements: z.array(z.string()) });
export type PostgresHandle = z.infer<typeof handleSchema>;

function checkNames(username: string, entitlements: string[]) {
  const problem = validateAccountName(username) ?? entitlements.map(validateEntitlementName).find((m) => m !== null);
  if (problem) throw refused('name_invalid', problem);
}

export function parseHandle(raw: Record<string, unknown>): PostgresHandle {
  const parsed = handleSchema.safeParse(raw);
  if (!parsed.success) throw invalid(`not a PostgreSQL grant handle: ${parsed.error.message}`);
  checkNames(parsed.data.username, parsed.data.entitlements);
  return parsed.data;
}

/**
 * One-line, bounded comment: the owning JIT account and installation (the ownership marker), who
 * the person is and why it was last enabled.
 */
function roleComment(spec: GrantSpec): string {
  const clean = (s: string, max: number) => s.replace(/[\p{Cc}]/gu, ' ').slice(0, max);
  const tag = spec.account.owner ? ownerTag(JIT_MARKER, spec.account.owner) : JIT_MARKER;
  return `${tag} of ${clean(spec.account.ownerDisplay, 200)}; grant ${clean(spec.grantId, 64)}: ${clean(spec.reason, 500)}`;
}

/** Serialises concurrent grant/revoke of one account on this database. */
const lockAccount = (c: pg.ClientBase, username: string) =>
  c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`timebox:role:${username}`]);

const notOurs = (username: string) =>
  refused('account_foreign', `role "${username}" already exists and is not a Timebox JIT account; Timebox will not change it`);

/**
 * Refuses a role Timebox may not change: with an owner, one whose comment does not name it;
 * without (older callers, revoke of an older handle), one without the Timebox marker.
 */
function assertOurs(role: RoleInfo, username: string, owner: AccountOwner | undefined): void {
  if (!owner) {
    if (!isTimeboxRole(role)) throw notOurs(username);
    return;
  }
  const status = roleOwnership(role, owner);
  if (status.status === 'foreign') {
    if (status.reason === 'not_timebox') throw notOurs(username);
    throw refused('account_foreign', `role "${username}" is not this JIT account's (${describeForeign(status.reason)}); Timebox will not change it`);
  }
}

/** Exact: is the name free, this JIT account's role, or someone else's? */
export async function roleStatus(pool: pg.Pool, username: string, owner: AccountOwner): Promise<AccountStatus> {
  checkNames(username, []);
  return withClient(pool, async (c) => roleOwnership(await findRole(c, username), owner));
}

export async function grantRole(pool: pg.Pool, spec: GrantSpec): Promise<PostgresHandle> {
  const { username } = spec.account;
  const entitlements = [...new Set(spec.entitlements)];
  checkNames(username, entitlements);
  const verifier = await scramSha256Verifier(spec.password);

  await inTransaction(pool, async (c) => {
    await lockAccount(c, username);
    const existing = await findRole(c, username);
    if (existing) assertOurs(existing, username, spec.account.owner);

    // Everything is checked before anything is created: a refused grant leaves no trace.
    const found = await findRoles(c, entitlements, { hostAccess: true });
    const missing = entitlements.filter((e) => !found.has(e));
    if (missing.length > 0) {
      throw refused('entitlement_missing', `entitlement role(s) ${missing.map((m) => `"${m}"`).join(', ')} do not exist on the server`);
    }
    const unfit = entitlements.filter((e) => e === username || e.startsWith('pg_') || found.get(e)?.canLogin);
    if (unfit.length > 0) {
      throw refused(
        'entitlement_unfit',
        `role(s) ${unfit.map((m) => `"${m}"`).join(', ')} cannot be entitlements: only group roles (NOLOGIN, not pg_*) can be granted`,
      );
    }
    const hostAccess = entitlements.filter((e) => found.get(e)?.hostAccess);
    if (hostAccess.length > 0) {
      throw refused(
        'entitlement_unfit',
        `role(s) ${hostAccess.map((m) => `"${m}"`).join(', ')} cannot be entitlements: they carry ${HOST_ACCESS_ROLES.join(', ')} (programs and files on the database host)`,
      );
    }

    const user = ident(username);
    const login = `LOGIN PASSWORD ${lit(verifier)} VALID UNTIL ${timestamp(spec.accountNotAfter)}`;
    if (existing) {
      await c.query(`ALTER ROLE ${user} WITH ${login}`);
    } else {
      await c.query(
        `CREATE ROLE ${user} WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT ${login}`,
      );
    }
    await c.query(`COMMENT ON ROLE ${user} IS ${lit(roleComment(spec))}`);
    const held = new Set(await memberships(c, username, entitlements));
    for (const e of entitlements) {
      if (!held.has(e)) await c.query(`GRANT ${ident(e)} TO ${user}`);
    }
  });
  return { username, entitlements };
}

/**
 * The memberships a revoke takes away: the handle's (not retained); with a sweep (a full revoke,
 * or the reconciler's repair) every membership no live grant retains, granted by hand or not.
 */
async function membershipsToRevoke(c: pg.ClientBase, handle: PostgresHandle, spec: RevokeSpec): Promise<string[]> {
  const sweep = spec.sweep === true || spec.accountStillNeededUntil === null;
  if (sweep) return (await allMemberships(c, handle.username)).filter((e) => !spec.retain.includes(e));
  return memberships(c, handle.username, handle.entitlements.filter((e) => !spec.retain.includes(e)));
}

export async function revokeRole(pool: pg.Pool, spec: RevokeSpec): Promise<void> {
  const handle = parseHandle(spec.handle);
  const { username } = handle;
  const disable = spec.accountStillNeededUntil === null;
  const verifier = disable ? await scramSha256Verifier(spec.rotatePassword) : null;

  const revoked = await inTransaction(pool, async (c) => {
    await lockAccount(c, username);
    const role = await findRole(c, username);
    if (!role) return null; // already gone: revocation is complete
    if (!isTimeboxRole(role)) throw notOurs(username);
    const taken = await membershipsToRevoke(c, handle, spec);
    for (const e of taken) await c.query(`REVOKE ${ident(e)} FROM ${ident(username)}`);
    if (verifier) {
      await c.query(`ALTER ROLE ${ident(username)} WITH NOLOGIN PASSWORD ${lit(verifier)} VALID UNTIL ${timestamp(PAST)}`);
    } else if (spec.accountStillNeededUntil) {
      await c.query(`ALTER ROLE ${ident(username)} VALID UNTIL ${timestamp(spec.accountStillNeededUntil)}`);
    }
    return taken.length + handle.entitlements.filter((e) => !spec.retain.includes(e)).length;
  });

  // After commit, so a reconnecting client can only get the new state.
  if (revoked !== null && (disable || revoked > 0)) {
    const left = await withClient(pool, (c) => terminateSessions(c, username));
    if (left > 0) throw transient(`${left} session(s) of role "${username}" did not end in time`);
  }
}

export async function verifyRole(pool: pg.Pool, spec: RevokeSpec): Promise<VerifyResult> {
  const handle = parseHandle(spec.handle);
  const { username } = handle;
  const toRevoke = handle.entitlements.filter((e) => !spec.retain.includes(e));
  const disable = spec.accountStillNeededUntil === null;

  return withClient(pool, async (c) => {
    const role = await findRole(c, username);
    if (!role) return { state: 'absent', findings: [] };
    const found: Finding[] = [];
    if (!isTimeboxRole(role)) found.push(finding.owner(username, 'a role without the Timebox marker'));
    const held = await membershipsToRevoke(c, handle, spec);
    found.push(...held.map(finding.entitlement));
    // While another grant still needs the account, its login and sessions are legitimate.
    if (disable) {
      if (role.canLogin) found.push(finding.login(username));
      const sessions = await liveSessions(c, username);
      if (sessions > 0) found.push(finding.sessions(username, sessions));
    } else if (spec.sweep && spec.accountStillNeededUntil) {
      const later = expiryFinding(username, spec.accountStillNeededUntil, role.validUntil);
      if (later) found.push(later);
    }
    if (found.length === 0) return { state: 'absent', findings: found };
    const stillHeld = toRevoke.filter((e) => held.includes(e));
    const nothingRevoked = stillHeld.length === toRevoke.length && (!disable || role.canLogin);
    return { state: nothingRevoked ? 'present' : 'drifted', findings: found };
  });
}

export async function rotateRole(
  pool: pg.Pool,
  rawHandle: Record<string, unknown>,
  password: string,
  owner?: AccountOwner,
): Promise<void> {
  const { username } = parseHandle(rawHandle);
  const verifier = await scramSha256Verifier(password);
  await inTransaction(pool, async (c) => {
    await lockAccount(c, username);
    const role = await findRole(c, username);
    if (!role) throw invalid(`role "${username}" does not exist on the server`);
    assertOurs(role, username, owner);
    await c.query(`ALTER ROLE ${ident(username)} WITH PASSWORD ${lit(verifier)}`);
  });
}

/**
 * Drops a JIT login role no grant holds any more. Objects it owns (or privileges granted to it)
 * are never dropped with it: PostgreSQL refuses, and the message says how to hand them over.
 */
export async function dropRole(pool: pg.Pool, username: string, owner?: AccountOwner): Promise<void> {
  checkNames(username, []);
  const exists = await inTransaction(pool, async (c) => {
    await lockAccount(c, username);
    const role = await findRole(c, username);
    if (!role) return false;
    assertOurs(role, username, owner);
    await c.query(`ALTER ROLE ${ident(username)} WITH NOLOGIN VALID UNTIL ${timestamp(PAST)}`);
    return true;
  });
  if (!exists) return;
  const left = await withClient(pool, (c) => terminateSessions(c, username));
  if (left > 0) throw transient(`${left} session(s) of role "${username}" did not end in time`);
  try {
    await inTransaction(pool, async (c) => {
      await lockAccount(c, username);
      if (await findRole(c, username)) await c.query(`DROP ROLE ${ident(username)}`);
    });
  } catch (err) {
    if ((err as { code?: string }).code === '2BP01') {
      const detail = String((err as { detail?: string }).detail ?? '').split('\n').slice(0, 3).join('; ');
      throw invalid(
        `role "${username}" still owns objects or holds privileges (${detail || 'see the server log'}); ` +
          `hand them over first (REASSIGN OWNED BY ${username} TO …; DROP OWNED BY ${username}) in each database, then delete again`,
      );
    }
    throw err;
  }
}

/** An extension moves the native backstop: the role stays valid until the new end. */
export async function extendRole(pool: pg.Pool, rawHandle: Record<string, unknown>, accountNotAfter: Date): Promise<void> {
  const { username } = parseHandle(rawHandle);
  await inTransaction(pool, async (c) => {
    await lockAccount(c, username);
    const role = await findRole(c, username);
    if (!role) throw invalid(`role "${username}" does not exist on the server`);
    if (!isTimeboxRole(role)) throw notOurs(username);
    await c.query(`ALTER ROLE ${ident(username)} VALID UNTIL ${timestamp(accountNotAfter)}`);
  });
}
