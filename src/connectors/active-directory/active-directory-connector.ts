/**
 * Active Directory connectors.
 * - `active-directory`: per-person JIT accounts in a dedicated OU (Quickpass-style `<name>_jit`),
 *   put in privileged groups for the grant; native expiry through accountExpires.
 * - `active-directory-groups`: temporary membership of an EXISTING user in groups.
 * Both speak LDAP over TLS only and never change an object Timebox did not create or was not asked
 * to change.
 */
import type { ConnectorContext, ConnectorDefinition, ConnectorInstance, ConnectorServices } from '../contract.js';
import { PASSWORD_LENGTH, checkTarget } from './check.js';
import {
  type ActiveDirectoryConfig,
  type ActiveDirectoryGroupsConfig,
  activeDirectoryConfigSchema,
  activeDirectorySecretBinding,
  activeDirectoryGroupsConfigSchema,
} from './config.js';
import { listGroups } from './entitlements.js';
import { toTargetError } from './errors.js';
import { grantGroups, revokeGroups, verifyGroups } from './group-membership.js';
import {
  deleteJitAccount, extendJitAccount, grantJitAccount, jitAccountStatus, revokeJitAccount, rotateJitAccount, verifyJitAccount,
} from './jit-accounts.js';
import { securityGroupExists } from './directory.js';
import { parseDn } from './dn.js';
import { accountNameRules, jitAccountNameRules, validateAccountName, validateEntitlementName, validateJitAccountName } from './names.js';
import { whereOf, withSession } from './session.js';

export {
  activeDirectoryConfigSchema,
  activeDirectoryGroupsConfigSchema,
  type ActiveDirectoryConfig,
  type ActiveDirectoryGroupsConfig,
} from './config.js';

/** Every call: map failures to retry classes and log them (never a password: specs are not logged). */
function caller(kind: string, where: string) {
  return async function call<T>(ctx: ConnectorContext, op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const mapped = toTargetError(err, where);
      ctx.log.warn({ target: where, kind, op, errorClass: mapped.errorClass, err: mapped.message }, 'active directory target call failed');
      throw mapped;
    }
  };
}

/** Exact entitlement lookup: a security group under baseDn, by its DN. */
async function groupExists(config: ActiveDirectoryGroupsConfig, ctx: ConnectorContext, dn: string): Promise<boolean> {
  if (validateEntitlementName(dn)) return false;
  return withSession(config, ctx, (s) => securityGroupExists(s, config.baseDn, dn));
}

/** sAMAccountNames are unique per domain: the DC components of baseDn name it. */
const domainOf = (baseDn: string) =>
  parseDn(baseDn).flatMap((rdn) => rdn.filter((a) => a.type.toLowerCase() === 'dc').map((a) => a.value.toLowerCase())).join('.');

function createJitInstance(raw: ActiveDirectoryConfig, services?: ConnectorServices): ConnectorInstance {
  const config = { ...activeDirectoryConfigSchema.parse(raw), outbound: services?.outbound };
  const where = whereOf(config);
  const call = caller('active-directory', where);
  return {
    check: (ctx) => call(ctx, 'check', () => checkTarget(config, ctx, config.jitOu)),
    listEntitlements: (ctx, q) => call(ctx, 'listEntitlements', () => listGroups(config, ctx, q)),
    grant: (ctx, spec) =>
      call(ctx, 'grant', async () => {
        const handle = await grantJitAccount(config, ctx, spec);
        ctx.log.info({ target: where, grantId: spec.grantId, ...handle }, 'active directory JIT account enabled');
        return { handle: { ...handle }, credential: { username: handle.username, password: spec.password } };
      }),
    revoke: (ctx, spec) =>
      call(ctx, 'revoke', async () => {
        await revokeJitAccount(config, ctx, spec);
        ctx.log.info({ target: where, grantId: spec.grantId, retain: spec.retain, disabled: spec.accountStillNeededUntil === null }, 'active directory grant revoked');
      }),
    verify: (ctx, spec) => call(ctx, 'verify', () => verifyJitAccount(config, ctx, spec)),
    rotate: (ctx, handle, password, owner) => call(ctx, 'rotate', () => rotateJitAccount(config, ctx, handle, password, owner)),
    extend: (ctx, handle, until) => call(ctx, 'extend', () => extendJitAccount(config, ctx, handle, until)),
    accountStatus: (ctx, name, owner) => call(ctx, 'accountStatus', () => jitAccountStatus(config, ctx, name, owner)),
    entitlementExists: (ctx, name) => call(ctx, 'entitlementExists', () => groupExists(config, ctx, name)),
    deleteAccount: (ctx, username, _handle, owner) =>
      call(ctx, 'deleteAccount', async () => {
        await deleteJitAccount(config, ctx, username, owner);
        ctx.log.info({ target: where, username }, 'active directory JIT account deleted');
      }),
    // Connections live for one call each: nothing to close.
    close: async () => {},
  };
}

function createGroupsInstance(raw: ActiveDirectoryGroupsConfig, services?: ConnectorServices): ConnectorInstance {
  const config = { ...activeDirectoryGroupsConfigSchema.parse(raw), outbound: services?.outbound };
  const where = whereOf(config);
  const call = caller('active-directory-groups', where);
  return {
    check: (ctx) => call(ctx, 'check', () => checkTarget(config, ctx)),
    listEntitlements: (ctx, q) => call(ctx, 'listEntitlements', () => listGroups(config, ctx, q)),
    entitlementExists: (ctx, name) => call(ctx, 'entitlementExists', () => groupExists(config, ctx, name)),
    grant: (ctx, spec) =>
      call(ctx, 'grant', async () => {
        const handle = await grantGroups(config, ctx, spec);
        ctx.log.info({ target: where, grantId: spec.grantId, ...handle }, 'active directory group membership granted');
        return { handle: { ...handle }, credential: null };
      }),
    revoke: (ctx, spec) =>
      call(ctx, 'revoke', async () => {
        await revokeGroups(config, ctx, spec);
        ctx.log.info({ target: where, grantId: spec.grantId, retain: spec.retain }, 'active directory group membership revoked');
      }),
    verify: (ctx, spec) => call(ctx, 'verify', () => verifyGroups(config, ctx, spec)),
    // No extend: membership has no native end here; the core simply revokes later.
    close: async () => {},
  };
}

export const activeDirectoryConnector: ConnectorDefinition<ActiveDirectoryConfig, 'active-directory'> = {
  kind: 'active-directory',
  label: 'Active Directory',
  help: 'A grant enables a personal JIT account in an OU of its own, in the chosen groups.',
  configSchema: activeDirectoryConfigSchema,
  accountNameRules: jitAccountNameRules,
  // No endsSessions: AD cannot end a logged-on session or recall Kerberos tickets already issued.
  capabilities: { nativeExpiry: true, endsSessions: false, canRotate: true, jitAccounts: true, liveDrift: true },
  secretBinding: activeDirectorySecretBinding,
  validateAccountName: validateJitAccountName,
  validateEntitlementName,
  accountScope: (config) => `ad:${domainOf(config.baseDn)}`,
  passwordPolicy: { length: PASSWORD_LENGTH },
  create: createJitInstance,
};

export const activeDirectoryGroupMembershipConnector: ConnectorDefinition<ActiveDirectoryGroupsConfig, 'active-directory-groups'> = {
  kind: 'active-directory-groups',
  label: 'Active Directory groups',
  help: 'A grant adds the person’s own directory account to the chosen groups for a time.',
  configSchema: activeDirectoryGroupsConfigSchema,
  accountNameRules,
  // Membership has no native end on domains below the 2016 functional level (no TTL links).
  capabilities: { nativeExpiry: false, endsSessions: false, canRotate: false, jitAccounts: false },
  secretBinding: activeDirectorySecretBinding,
  validateAccountName,
  validateEntitlementName,
  passwordPolicy: { length: PASSWORD_LENGTH },
  create: createGroupsInstance,
};
