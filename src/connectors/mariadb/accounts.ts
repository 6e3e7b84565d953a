/**
 * Grant, revoke, verify, rotate and delete a per-person JIT user. Everything is checked before
 * anything is changed; names are allow-listed and then always quoted. The grant leaves a
 * backstop on the server itself: an event that locks the account at its end, Timebox up or not.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import { z } from 'zod';
import { type AccountOwner, type AccountStatus, describeForeign, ownerTag, readMarker } from '../../core/account-ownership.js';
import { invalid, refused, transient } from '../../core/errors.js';
import { type Finding, expiryFinding, findings as finding } from '../../core/findings.js';
import type { GrantSpec, RevokeSpec, VerifyResult } from '../contract.js';
import {
  HOST_ACCESS_PRIVILEGES, JIT_MARKER, accountOwnership, allRoles, eventExists, eventRunsAt, exec, findMarker, findUsers, grantableRoles, heldRoles, killSessions, rows,
  sessionIds, type UserInfo,
} from './catalog.js';
import type { MariadbConfig } from './config.js';
import { validateAccountName, validateEntitlementName } from './names.js';
import { account, backstopEventName, ident, lit, nativePasswordHash, utcDatetime } from './sql.js';
import { withAccountLock, withConnection } from './session.js';

/** `host` is the account's host pattern when granted (the target's setting may change later). */
export const handleSchema = z.object({ username: z.string(), host: z.string().optional(), entitlements: z.array(z.string()) });
export type MariadbHandle = { username: string; host: string; entitlements: string[] };

function checkNames(username: string, entitlements: string[]) {
  const problem = validateAccountName(username) ?? entitlements.map(validateEntitlementName).find((m) => m !== null);
  if (problem) throw refused('name_invalid', problem);
}

function parseHandle(raw: Record<string, unknown>, cfg: MariadbConfig): MariadbHandle {
  const parsed = handleSchema.safeParse(raw);
  if (!parsed.success) throw invalid(`not a MariaDB grant handle: ${parsed.error.message}`);
  checkNames(parsed.data.username, parsed.data.entitlements);
  return { ...parsed.data, host: parsed.data.host ?? cfg.accountHost };
}

function markerText(spec: GrantSpec): string {
  const clean = (s: string, max: number) => s.replace(/[\p{Cc}]/gu, ' ').slice(0, max);
  const tag = spec.account.owner ? ownerTag(JIT_MARKER, spec.account.owner) : JIT_MARKER;
  return `${tag} of ${clean(spec.account.ownerDisplay, 200)}; grant ${clean(spec.grantId, 64)}: ${clean(spec.reason, 500)}`.slice(0, 1000);
}

const isTimebox = (marker: string | null) => readMarker(JIT_MARKER, marker).kind !== 'none';

/** `users`: the account's rows, read under the caller's lock. */
async function assertOurs(c: PoolConnection, cfg: MariadbConfig, username: string, owner: AccountOwner | undefined, users: UserInfo[]) {
  if (!owner) {
    if (!isTimebox(await findMarker(c, cfg.schema, username))) {
      throw refused('account_foreign', `user "${username}" already exists and is not a Timebox JIT account; Timebox will not change it`);
    }
    return;
  }
  const status = await accountOwnership(c, cfg.schema, username, owner, users);
  if (status.status === 'foreign') {
    throw refused('account_foreign', `user "${username}" is not this JIT account's (${describeForeign(status.reason)}); Timebox will not change it`);
  }
}

async function scheduleBackstop(c: PoolConnection, cfg: MariadbConfig, username: string, at: Date) {
  const who = account(username, cfg.accountHost);
  await exec(
    c,
    `CREATE OR REPLACE EVENT ${ident(cfg.schema)}.${ident(backstopEventName(username, cfg.accountHost))}
       ON SCHEDULE AT ${utcDatetime(at)} ON COMPLETION NOT PRESERVE
       COMMENT ${lit(`Timebox backstop: locks ${username}@${cfg.accountHost} at the end of its grants`)}
       DO ALTER USER ${who} ACCOUNT LOCK`,
  );
}

const dropBackstop = (c: PoolConnection, cfg: MariadbConfig, username: string) =>
  exec(c, `DROP EVENT IF EXISTS ${ident(cfg.schema)}.${ident(backstopEventName(username, cfg.accountHost))}`);

export async function userStatus(pool: Pool, cfg: MariadbConfig, username: string, owner: AccountOwner): Promise<AccountStatus> {
  checkNames(username, []);
  return withConnection(pool, (c) => accountOwnership(c, cfg.schema, username, owner));
}

export async function grantUser(pool: Pool, cfg: MariadbConfig, spec: GrantSpec): Promise<MariadbHandle> {
  const { username } = spec.account;
  const entitlements = [...new Set(spec.entitlements)];
  checkNames(username, entitlements);
  const host = cfg.accountHost;
  const who = account(username, host);
  await withAccountLock(pool, username, async (c) => {
    const users = await findUsers(c, username);
    if (users.length > 0) {
      if (users.some((u) => u.isRole)) throw refused('account_foreign', `"${username}" is a role on the server, not a user Timebox manages`);
      await assertOurs(c, cfg, username, spec.account.owner, users);
      if (!users.some((u) => u.host === host)) {
        throw refused('account_foreign', `user "${username}" exists for host(s) ${users.map((u) => `'${u.host}'`).join(', ')}, not '${host}'; Timebox will not change it`);
      }
    }
    // Everything is checked before anything is created: a refused grant leaves no trace.
    const offered = await grantableRoles(c);
    const grantable = new Set(offered.map((r) => r.role));
    const missing = entitlements.filter((e) => !grantable.has(e));
    if (missing.length > 0) {
      throw refused(
        'entitlement_missing',
        `role(s) ${missing.map((m) => `"${m}"`).join(', ')} do not exist on the server or the service account does not hold them WITH ADMIN OPTION`,
      );
    }
    const reaching = new Set(offered.filter((r) => r.reachesHost).map((r) => r.role));
    const unfit = entitlements.filter((e) => reaching.has(e));
    if (unfit.length > 0) {
      throw refused(
        'entitlement_unfit',
        `role(s) ${unfit.map((m) => `"${m}"`).join(', ')} cannot be entitlements: they carry ${Object.keys(HOST_ACCESS_PRIVILEGES).join(' or ')} (files and settings of the database host), themselves or through a role granted to them`,
      );
    }
    const hash = lit(nativePasswordHash(spec.password));
    // The marker first: an account is never left without it. Locked until everything is in place.
    await rows(c, `REPLACE INTO ${ident(cfg.schema)}.jit_accounts (user, host, marker) VALUES (?, ?, ?)`, [username, host, markerText(spec)]);
    if (users.length === 0) await exec(c, `CREATE USER ${who} IDENTIFIED BY PASSWORD ${hash} ACCOUNT LOCK`);
    else await exec(c, `ALTER USER ${who} IDENTIFIED BY PASSWORD ${hash} ACCOUNT LOCK`);
    const held = new Set(await heldRoles(c, username, host, entitlements));
    for (const e of entitlements) if (!held.has(e)) await exec(c, `GRANT ${ident(e)} TO ${who}`);
    // MariaDB keeps one default role per user: the first entitlement; others need SET ROLE.
    if (entitlements[0]) await exec(c, `SET DEFAULT ROLE ${ident(entitlements[0])} FOR ${who}`);
    await scheduleBackstop(c, cfg, username, spec.accountNotAfter);
    await exec(c, `ALTER USER ${who} ACCOUNT UNLOCK`);
  });
  return { username, host, entitlements };
}

/**
 * The roles a revoke takes: the handle's (not retained); with a sweep (a full revoke, or the
 * reconciler's repair) every role no live grant retains, granted by hand or not.
 */
async function rolesToRevoke(c: PoolConnection, handle: MariadbHandle, spec: RevokeSpec): Promise<string[]> {
  if (spec.sweep === true || spec.accountStillNeededUntil === null) {
    return (await allRoles(c, handle.username, handle.host)).filter((e) => !spec.retain.includes(e));
  }
  return heldRoles(c, handle.username, handle.host, handle.entitlements.filter((e) => !spec.retain.includes(e)));
}

export async function revokeUser(pool: Pool, cfg: MariadbConfig, spec: RevokeSpec): Promise<void> {
  const { username, host, entitlements } = parseHandle(spec.handle, cfg);
  const toRevoke = entitlements.filter((e) => !spec.retain.includes(e));
  const disable = spec.accountStillNeededUntil === null;
  const hc = { ...cfg, accountHost: host };
  const who = account(username, host);
  await withAccountLock(pool, username, async (c) => {
    const users = await findUsers(c, username);
    if (!users.some((u) => u.host === host)) return; // already gone: revocation is complete
    if (!isTimebox(await findMarker(c, cfg.schema, username))) {
      throw refused('account_foreign', `user "${username}" is not a Timebox JIT account; Timebox will not change it`);
    }
    if (disable) await exec(c, `ALTER USER ${who} ACCOUNT LOCK`);
    const taken = await rolesToRevoke(c, { username, host, entitlements }, spec);
    for (const e of taken) await exec(c, `REVOKE ${ident(e)} FROM ${who}`);
    if (disable) {
      await exec(c, `SET DEFAULT ROLE NONE FOR ${who}`);
      await exec(c, `ALTER USER ${who} IDENTIFIED BY PASSWORD ${lit(nativePasswordHash(spec.rotatePassword))}`);
    } else {
      const kept = await heldRoles(c, username, host, entitlements);
      if (kept[0]) await exec(c, `SET DEFAULT ROLE ${ident(kept[0])} FOR ${who}`);
    }
    // After the account is locked and stripped, so a reconnecting client only gets the new state.
    if (disable || toRevoke.length > 0 || taken.length > 0) {
      const left = await killSessions(c, username);
      if (left > 0) throw transient(`${left} session(s) of user "${username}" did not end in time`);
    }
    if (disable) await dropBackstop(c, hc, username);
    else if (spec.accountStillNeededUntil) await scheduleBackstop(c, hc, username, spec.accountStillNeededUntil);
  });
}

export async function verifyUser(pool: Pool, cfg: MariadbConfig, spec: RevokeSpec): Promise<VerifyResult> {
  const { username, host, entitlements } = parseHandle(spec.handle, cfg);
  const toRevoke = entitlements.filter((e) => !spec.retain.includes(e));
  const disable = spec.accountStillNeededUntil === null;
  return withConnection(pool, async (c) => {
    const user = (await findUsers(c, username)).find((u) => u.host === host);
    if (!user) return { state: 'absent', findings: [] };
    const left = await rolesToRevoke(c, { username, host, entitlements }, spec);
    // The handle's roles still held: `left` holds them (with a sweep, among every role held).
    const held = left.filter((e) => toRevoke.includes(e));
    const findings: Finding[] = left.map(finding.entitlement);
    if (disable) {
      if (!user.locked) findings.push(finding.login(username));
      const sessions = (await sessionIds(c, username)).length;
      if (sessions > 0) findings.push(finding.sessions(username, sessions));
      const event = backstopEventName(username, host);
      if (await eventExists(c, cfg.schema, event)) findings.push(finding.backstop(`${cfg.schema}.${event}`));
    } else if (spec.sweep && spec.accountStillNeededUntil) {
      // The backstop is the native expiry: dropped (null) or moved past the live grants' end is drift.
      const later = expiryFinding(username, spec.accountStillNeededUntil, await eventRunsAt(c, cfg.schema, backstopEventName(username, host)));
      if (later) findings.push(later);
    }
    if (findings.length === 0) return { state: 'absent', findings };
    const nothingRevoked = held.length === toRevoke.length && (!disable || !user.locked);
    return { state: nothingRevoked ? 'present' : 'drifted', findings };
  });
}

export async function rotateUser(pool: Pool, cfg: MariadbConfig, raw: Record<string, unknown>, password: string, owner?: AccountOwner) {
  const { username, host } = parseHandle(raw, cfg);
  await withAccountLock(pool, username, async (c) => {
    const users = await findUsers(c, username);
    if (!users.some((u) => u.host === host)) throw invalid(`user "${username}" does not exist on the server`);
    await assertOurs(c, cfg, username, owner, users);
    await exec(c, `ALTER USER ${account(username, host)} IDENTIFIED BY PASSWORD ${lit(nativePasswordHash(password))}`);
  });
}

export async function extendUser(pool: Pool, cfg: MariadbConfig, raw: Record<string, unknown>, until: Date) {
  const { username, host } = parseHandle(raw, cfg);
  await withAccountLock(pool, username, async (c) => {
    const users = await findUsers(c, username);
    if (!users.some((u) => u.host === host)) throw invalid(`user "${username}" does not exist on the server`);
    await assertOurs(c, cfg, username, undefined, users);
    await scheduleBackstop(c, { ...cfg, accountHost: host }, username, until);
  });
}

/** Drops a JIT user no grant holds any more, its sessions, backstop and marker. */
export async function dropUser(pool: Pool, cfg: MariadbConfig, username: string, handle: Record<string, unknown> | null, owner?: AccountOwner) {
  checkNames(username, []);
  const host = handle ? parseHandle(handle, cfg).host : cfg.accountHost;
  await withAccountLock(pool, username, async (c) => {
    const users = await findUsers(c, username);
    if (users.some((u) => u.host === host)) {
      await assertOurs(c, cfg, username, owner, users);
      await exec(c, `ALTER USER ${account(username, host)} ACCOUNT LOCK`);
      const left = await killSessions(c, username);
      if (left > 0) throw transient(`${left} session(s) of user "${username}" did not end in time`);
      await exec(c, `DROP USER IF EXISTS ${account(username, host)}`);
    }
    await dropBackstop(c, { ...cfg, accountHost: host }, username);
    await rows(c, `DELETE FROM ${ident(cfg.schema)}.jit_accounts WHERE user = ? AND host = ?`, [username, host]);
  });
}
