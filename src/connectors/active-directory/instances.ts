/**
 * The Active Directory connectors' instances: LDAP calls through ldapts, loaded on the first call
 * to a target of these kinds (active-directory-connector.ts holds the definitions).
 */
import type { ConnectorContext, ConnectorServices } from '../contract.js';
import { targetCaller } from '../target-call.js';
import type { LoadedInstance } from '../lazy-instance.js';
import { checkTarget } from './check.js';
import { type ActiveDirectoryConfig, type ActiveDirectoryGroupsConfig, activeDirectoryConfigSchema, activeDirectoryGroupsConfigSchema } from './config.js';
import { listGroups } from './entitlements.js';
import { toTargetError } from './errors.js';
import { grantGroups, revokeGroups, verifyGroups } from './group-membership.js';
import {
  deleteJitAccount, extendJitAccount, grantJitAccount, jitAccountStatus, revokeJitAccount, rotateJitAccount, verifyJitAccount,
} from './jit-accounts.js';
import { securityGroupExists } from './directory.js';
import { validateEntitlementName } from './names.js';
import { whereOf, withSession } from './session.js';

/** Exact entitlement lookup: a security group under baseDn, by its DN. */
async function groupExists(config: ActiveDirectoryGroupsConfig, ctx: ConnectorContext, dn: string): Promise<boolean> {
  if (validateEntitlementName(dn)) return false;
  return withSession(config, ctx, (s) => securityGroupExists(s, config.baseDn, dn));
}

export function createJitInstance(
  raw: ActiveDirectoryConfig,
  services?: ConnectorServices,
): LoadedInstance<'rotate' | 'extend' | 'accountStatus' | 'entitlementExists' | 'deleteAccount'> {
  const config = { ...activeDirectoryConfigSchema.parse(raw), outbound: services?.outbound };
  const where = whereOf(config);
  const call = targetCaller('active-directory', where, toTargetError);
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

export function createGroupsInstance(raw: ActiveDirectoryGroupsConfig, services?: ConnectorServices): LoadedInstance<'entitlementExists'> {
  const config = { ...activeDirectoryGroupsConfigSchema.parse(raw), outbound: services?.outbound };
  const where = whereOf(config);
  const call = targetCaller('active-directory-groups', where, toTargetError);
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

