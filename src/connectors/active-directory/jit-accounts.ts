/**
 * Per-person JIT accounts in the JIT OU: grant creates or re-enables one, revoke takes its groups,
 * disables it, expires it and gives it a password nobody knows; accountExpires is the backstop
 * that ends access at the grant's end even if Timebox is down.
 */
import { randomBytes } from 'node:crypto';
import { type AccountOwner, type AccountStatus, describeForeign, ownerTag, ownershipOf } from '../../core/account-ownership.js';
import { invalid, permanent, refused, transient } from '../../core/errors.js';
import { type Finding, expiryFinding, findings as finding } from '../../core/findings.js';
import type { ConnectorContext, GrantSpec, RevokeSpec, VerifyResult } from '../contract.js';
import type { ActiveDirectoryConfig } from './config.js';
import { formatDn, normalizeDn, parentOf, parseDn } from './dn.js';
import {
  type Account, JIT_MARKER, UAC_DISABLED, UAC_ENABLED, addMember, checkGroups, domainRoot, findAccount, heldGroups,
  isEnabled, isTimeboxAccount, removeMember, signInNameHolder, toFileTime, unicodePwd, withoutRetained,
} from './directory.js';
import { type AdHandle, checkNames, parseHandle, uniqueGroups } from './handle.js';
import { passwordMentionsAccount } from './names.js';
import { type Session, withSession } from './session.js';
import { sweepIdleAccounts } from './sweep.js';

const clean = (s: string, max: number) => s.replace(/\p{Cc}/gu, ' ').trim().slice(0, max);
export const displayNameOf = (owner: string) => `JIT: ${clean(owner, 200)}`;
/** The description is the ownership marker: it names the owning JIT account and installation. */
const descriptionOf = (spec: GrantSpec) =>
  `${spec.account.owner ? ownerTag(JIT_MARKER, spec.account.owner) : JIT_MARKER} of ${clean(spec.account.ownerDisplay, 200)}; grant ${clean(spec.grantId, 64)}: ${clean(spec.reason, 600)} (managed by Timebox)`;

/** DC=example,DC=com → example.com, the default UPN suffix. */
const dnsNameOf = (root: string) =>
  parseDn(root).flatMap((rdn) => rdn.filter((a) => a.type.toLowerCase() === 'dc').map((a) => a.value)).join('.');

function notOurs(account: Account, username: string) {
  return refused(
    'account_foreign',
    `sAMAccountName "${username}" is already used by ${account.dn}, which is not a Timebox JIT account; Timebox will not change it (choose another account name)`,
  );
}

/**
 * The names a JIT account signs in with: the userPrincipalName it is given, then the one the
 * domain implies from its sAMAccountName (`name@<domain>`), when they differ.
 */
function signInNames(config: ActiveDirectoryConfig, root: string, username: string): [string, ...string[]] {
  const given = `${username}@${config.upnSuffix ?? dnsNameOf(root)}`;
  const implied = `${username}@${dnsNameOf(root)}`;
  return given.toLowerCase() === implied.toLowerCase() ? [given] : [given, implied];
}

/** Exact: whose is the object with this sAMAccountName (anywhere in the domain)? */
export function accountOwnership(account: Account | null, owner: AccountOwner): AccountStatus {
  if (!account) return { status: 'free' };
  if (!account.isUser) return { status: 'foreign', reason: 'not_an_account' };
  return ownershipOf(JIT_MARKER, account.description, owner);
}

/**
 * Changes only accounts Timebox made: a user carrying the marker, which with an owner must name
 * it (another person's JIT account in a shared JIT OU is never adopted).
 */
function assertOurs(account: Account, username: string, owner: AccountOwner | undefined) {
  if (!account.isUser || !isTimeboxAccount(account)) throw notOurs(account, username);
  if (!owner) return;
  const status = accountOwnership(account, owner);
  if (status.status === 'foreign') {
    throw refused(
      'account_foreign',
      `sAMAccountName "${username}" (${account.dn}) is not this JIT account's: ${describeForeign(status.reason)}; Timebox will not change it`,
    );
  }
}

export async function jitAccountStatus(config: ActiveDirectoryConfig, ctx: ConnectorContext, username: string, owner: AccountOwner) {
  checkNames(username, []);
  return withSession(config, ctx, async (s): Promise<AccountStatus> => {
    const root = await domainRoot(s);
    const status = accountOwnership(await findAccount(s, root, username), owner);
    if (status.status === 'foreign') return status;
    if (await signInNameHolder(s, root, signInNames(config, root, username), username)) return { status: 'foreign', reason: 'sign_in_name_taken' };
    return status;
  });
}

/** Grant changes only accounts Timebox made: marked (for this owner), a user, and directly in the JIT OU. */
function assertOursForGrant(account: Account, username: string, jitOu: string, owner?: AccountOwner) {
  assertOurs(account, username, owner);
  if (parentOf(account.dn) !== normalizeDn(jitOu)) {
    throw invalid(`the Timebox JIT account ${account.dn} is outside the JIT OU ${jitOu}; move it back (or delete it) before granting`);
  }
}

/** A random password with upper, lower, digit and symbol, for when the core's one is refused. */
const fallbackPassword = () => `${randomBytes(24).toString('base64url')}-Tb9x`;

export async function grantJitAccount(config: ActiveDirectoryConfig, ctx: ConnectorContext, spec: GrantSpec): Promise<AdHandle> {
  const { username } = spec.account;
  checkNames(username, spec.entitlements);
  const groups = uniqueGroups(spec.entitlements);
  const displayName = displayNameOf(spec.account.ownerDisplay);
  const mention = passwordMentionsAccount(spec.password, username, displayName);
  if (mention) {
    // AD would refuse it (complexity rule); transient so the core retries with a fresh password.
    throw transient(`the generated password happens to contain ${mention}, which Active Directory's complexity rule refuses; retrying with a new password`);
  }

  return withSession(config, ctx, async (s) => {
    const root = await domainRoot(s);
    let account = await findAccount(s, root, username);
    if (account) assertOursForGrant(account, username, config.jitOu, spec.account.owner);
    // Everything is checked before anything is created: a refused grant leaves no trace.
    await checkGroups(s, config.baseDn, groups);

    const dn = account?.dn ?? formatDn([[{ type: 'CN', value: username }], ...parseDn(config.jitOu)]);
    const fields = { description: descriptionOf(spec), displayName, accountExpires: toFileTime(spec.accountNotAfter) };
    if (!account) {
      try {
        await s.step(`creating the JIT account ${dn}`, (c) =>
          c.add(dn, {
            objectClass: ['top', 'person', 'organizationalPerson', 'user'],
            sAMAccountName: username,
            userPrincipalName: signInNames(config, root, username)[0],
            // Created disabled; enabled only once it has its password and groups.
            userAccountControl: String(UAC_DISABLED),
            ...fields,
          }),
        );
      } catch (err) {
        if ((err as { cause?: { code?: unknown } }).cause?.code !== 68) throw err;
        // A concurrent grant made it first (then it is ours), or another object has that name.
        account = await findAccount(s, root, username);
        if (!account) throw refused('account_foreign', `an object named ${dn} already exists in the JIT OU and is not a Timebox JIT account`, err);
        assertOursForGrant(account, username, config.jitOu, spec.account.owner);
      }
    }
    if (account) await s.replace(`updating the JIT account ${dn}`, dn, fields);

    const held = new Set(account ? heldGroups(account, groups).map(normalizeDn) : []);
    for (const g of groups) if (!held.has(normalizeDn(g))) await addMember(s, g, dn);

    await s.replace(`setting the password of and enabling ${dn}`, dn, {
      unicodePwd: unicodePwd(spec.password),
      userAccountControl: String(UAC_ENABLED),
    });
    return { username, dn, entitlements: groups };
  });
}

/** Sets a password nobody knows; falls back to our own when the core's is refused. */
async function scramblePassword(s: Session, account: Account, preferred: string): Promise<void> {
  const doing = `setting a new random password on ${account.dn}`;
  let lastError: unknown;
  for (const candidate of [preferred, fallbackPassword(), fallbackPassword()]) {
    if (passwordMentionsAccount(candidate, account.samAccountName, account.displayName)) continue;
    try {
      await s.replace(doing, account.dn, { unicodePwd: unicodePwd(candidate) });
      return;
    } catch (err) {
      const policy = (err as { cause?: { code?: unknown } }).cause?.code === 19;
      if (!policy) throw err;
      lastError = err; // try a fresh random password once more before asking a person
    }
  }
  throw lastError ?? permanent(`could not find a password the domain accepts for ${account.dn}`);
}

/**
 * Groups the account should lose: the grant's (not retained), and with a sweep (a full revoke or
 * the reconciler's repair) any other group no live grant retains.
 */
function groupsToRemove(account: Account, handle: AdHandle, spec: RevokeSpec, full: boolean) {
  const granted = heldGroups(account, withoutRetained(handle.entitlements, spec.retain));
  if (!full && !spec.sweep) return { granted, extra: [] as string[] };
  const grantedKeys = new Set(handle.entitlements.map(normalizeDn));
  const extra = withoutRetained(account.memberOf, spec.retain).filter((g) => !grantedKeys.has(normalizeDn(g)));
  return { granted, extra };
}

export async function revokeJitAccount(config: ActiveDirectoryConfig, ctx: ConnectorContext, spec: RevokeSpec): Promise<void> {
  const handle = parseHandle(spec.handle);
  const full = spec.accountStillNeededUntil === null;
  await withSession(config, ctx, async (s) => {
    const root = await domainRoot(s);
    const account = await findAccount(s, root, handle.username);
    if (!account) return; // already gone: revocation is complete
    if (!account.isUser || !isTimeboxAccount(account)) throw notOurs(account, handle.username);

    if (full) {
      // Lock first: disabled and expired even if a later step fails.
      await s.replace(`disabling ${account.dn}`, account.dn, {
        userAccountControl: String(UAC_DISABLED),
        accountExpires: toFileTime(new Date()),
      });
    }
    const { granted, extra } = groupsToRemove(account, handle, spec, full);
    // Groups added by hand to a JIT account would come back with its next grant: remove them too.
    for (const g of [...granted, ...extra]) await removeMember(s, g, account.dn);
    if (full) {
      await scramblePassword(s, account, spec.rotatePassword);
      if (config.deleteAfterIdleDays) await sweepIdleAccounts(s, config, ctx.log, account.description ?? null);
    } else {
      await s.replace(`shortening the expiry of ${account.dn}`, account.dn, {
        accountExpires: toFileTime(spec.accountStillNeededUntil!),
      });
    }
  });
}

export async function verifyJitAccount(config: ActiveDirectoryConfig, ctx: ConnectorContext, spec: RevokeSpec): Promise<VerifyResult> {
  const handle = parseHandle(spec.handle);
  const full = spec.accountStillNeededUntil === null;
  return withSession(config, ctx, async (s) => {
    const account = await findAccount(s, await domainRoot(s), handle.username);
    if (!account) return { state: 'absent', findings: [] };
    const name = handle.username;
    if (!isTimeboxAccount(account)) return { state: 'drifted', findings: [finding.owner(name, account.dn)] };
    const { granted, extra } = groupsToRemove(account, handle, spec, full);
    const found: Finding[] = [...granted, ...extra].map(finding.entitlement);
    // While another grant still needs the account, its login is legitimate: only groups count,
    // and with a sweep an expiry moved past the live grants' end.
    if (full) {
      if (isEnabled(account)) found.push(finding.login(name));
      const later = expiryFinding(name, new Date(), account.accountExpires);
      if (later) found.push(later);
    } else if (spec.sweep && spec.accountStillNeededUntil) {
      const later = expiryFinding(name, spec.accountStillNeededUntil, account.accountExpires);
      if (later) found.push(later);
    }
    if (found.length === 0) return { state: 'absent', findings: found };
    const toRevoke = withoutRetained(handle.entitlements, spec.retain);
    const nothingRevoked = granted.length === toRevoke.length && (!full || isEnabled(account));
    return { state: nothingRevoked ? 'present' : 'drifted', findings: found };
  });
}

export async function rotateJitAccount(
  config: ActiveDirectoryConfig,
  ctx: ConnectorContext,
  raw: Record<string, unknown>,
  password: string,
  owner?: AccountOwner,
) {
  const handle = parseHandle(raw);
  await withSession(config, ctx, async (s) => {
    const account = await findAccount(s, await domainRoot(s), handle.username);
    if (!account) throw invalid(`the JIT account ${handle.username} does not exist in the domain`);
    assertOurs(account, handle.username, owner);
    const mention = passwordMentionsAccount(password, account.samAccountName, account.displayName);
    if (mention) throw transient(`the generated password happens to contain ${mention}, which Active Directory refuses; retry with a new password`);
    await s.replace(`setting the password of ${account.dn}`, account.dn, { unicodePwd: unicodePwd(password) });
  });
}

/** Deletes a JIT account no grant holds (the person asked): only a marked user directly in the JIT OU. */
export async function deleteJitAccount(config: ActiveDirectoryConfig, ctx: ConnectorContext, username: string, owner?: AccountOwner) {
  checkNames(username, []);
  await withSession(config, ctx, async (s) => {
    const account = await findAccount(s, await domainRoot(s), username);
    if (!account) return; // already gone (deleteAfterIdleDays, or by hand)
    assertOursForGrant(account, username, config.jitOu, owner);
    await s.step(`deleting the JIT account ${account.dn}`, (c) => c.del(account.dn));
  });
}

/** An extension moves the native backstop: the account stays valid until the new end. */
export async function extendJitAccount(config: ActiveDirectoryConfig, ctx: ConnectorContext, raw: Record<string, unknown>, accountNotAfter: Date) {
  const handle = parseHandle(raw);
  await withSession(config, ctx, async (s) => {
    const account = await findAccount(s, await domainRoot(s), handle.username);
    if (!account) throw invalid(`the JIT account ${handle.username} does not exist in the domain`);
    if (!account.isUser || !isTimeboxAccount(account)) throw notOurs(account, handle.username);
    await s.replace(`moving accountExpires of ${account.dn}`, account.dn, { accountExpires: toFileTime(accountNotAfter) });
  });
}
