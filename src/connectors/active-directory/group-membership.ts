/**
 * Temporary group membership for an EXISTING directory user (senhasegura's "group membership"):
 * grant adds the user to groups, revoke removes the ones no other grant retains. The account
 * itself is never created, enabled, disabled or given a password.
 */
import { invalid, refused } from '../../core/errors.js';
import { findings as finding } from '../../core/findings.js';
import type { ConnectorContext, GrantSpec, RevokeSpec, VerifyResult } from '../contract.js';
import type { ActiveDirectoryGroupsConfig } from './config.js';
import { type Account, addMember, checkGroups, findAccount, heldGroups, isTimeboxAccount, removeMember, withoutRetained } from './directory.js';
import { type AdHandle, checkNames, parseHandle, uniqueGroups } from './handle.js';
import { type Session, withSession } from './session.js';

/** The user under baseDn, or null; refuses Timebox's own JIT accounts (their kind manages them). */
async function findUser(s: Session, config: ActiveDirectoryGroupsConfig, username: string): Promise<Account | null> {
  const account = await findAccount(s, config.baseDn, username);
  if (!account) return null;
  if (!account.isUser) throw invalid(`${account.dn} (sAMAccountName ${username}) is not a user account`);
  if (isTimeboxAccount(account)) {
    throw invalid(
      `${account.dn} is a Timebox JIT account; its groups are managed by its active-directory target, not by group membership grants`,
    );
  }
  return account;
}

/**
 * The person named this user at their first request, and a name proves nothing: without a check,
 * anyone could put a colleague's (or a shared service) account into Domain Admins under their own
 * name. The directory proves it when the user's userPrincipalName, its sign-in name (unique in the
 * forest, and guarded as sign-in is), is the requester's address; read at every activation, so a
 * name changed since counts. Not `mail`: it is not unique, shared and service accounts carry their
 * owners' addresses, and more people may write it than may write privileged groups. Otherwise an
 * administrator other than the person confirmed the binding. Checked before anything is changed.
 */
function ensureRequestersOwn(account: Account, spec: GrantSpec): void {
  const email = spec.requester?.email.toLowerCase();
  if (email && account.upn === email) return;
  if (spec.account.bindingConfirmed) {
    // The confirmation was of one object; a user deleted and created again under the name is not it.
    if (spec.account.boundObjectId && account.objectGuid !== spec.account.boundObjectId) {
      throw refused(
        'account_replaced',
        `the directory user "${account.samAccountName}" is not the one an administrator confirmed as ${email ?? 'the requester'}'s (its objectGUID changed: deleted and created again?); the confirmation is withdrawn, and an administrator must confirm it again (JIT accounts: Confirm)`,
      );
    }
    return;
  }
  throw refused(
    'account_foreign',
    `the directory does not show that user "${account.samAccountName}" is ${email ?? 'the requester'}'s: its userPrincipalName is not that address, and no administrator of the tenant has confirmed it (JIT accounts: Confirm)`,
  );
}

export async function grantGroups(config: ActiveDirectoryGroupsConfig, ctx: ConnectorContext, spec: GrantSpec): Promise<AdHandle> {
  const { username } = spec.account;
  checkNames(username, spec.entitlements);
  const groups = uniqueGroups(spec.entitlements);
  return withSession(config, ctx, async (s) => {
    const account = await findUser(s, config, username);
    if (!account) throw invalid(`there is no user with sAMAccountName "${username}" under ${config.baseDn}`);
    ensureRequestersOwn(account, spec);
    await checkGroups(s, config.baseDn, groups);
    const held = new Set(heldGroups(account, groups));
    for (const g of groups) if (!held.has(g)) await addMember(s, g, account.dn);
    return { username, dn: account.dn, entitlements: groups, ...(account.objectGuid ? { objectGuid: account.objectGuid } : {}) };
  });
}

export async function revokeGroups(config: ActiveDirectoryGroupsConfig, ctx: ConnectorContext, spec: RevokeSpec): Promise<void> {
  const handle = parseHandle(spec.handle);
  await withSession(config, ctx, async (s) => {
    const account = await findUser(s, config, handle.username);
    if (!account) return; // the user is gone, and with it every membership
    for (const g of heldGroups(account, withoutRetained(handle.entitlements, spec.retain))) await removeMember(s, g, account.dn);
  });
}

export async function verifyGroups(config: ActiveDirectoryGroupsConfig, ctx: ConnectorContext, spec: RevokeSpec): Promise<VerifyResult> {
  const handle = parseHandle(spec.handle);
  return withSession(config, ctx, async (s) => {
    const account = await findUser(s, config, handle.username);
    if (!account) return { state: 'absent', findings: [] };
    const toRevoke = withoutRetained(handle.entitlements, spec.retain);
    const held = heldGroups(account, toRevoke);
    const findings = held.map(finding.entitlement);
    if (held.length === 0) return { state: 'absent', findings };
    return { state: held.length === toRevoke.length ? 'present' : 'drifted', findings };
  });
}
