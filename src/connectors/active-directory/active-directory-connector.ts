/**
 * Active Directory connectors.
 * - `active-directory`: per-person JIT accounts in a dedicated OU (Quickpass-style `<name>_jit`),
 *   put in privileged groups for the grant; native expiry through accountExpires.
 * - `active-directory-groups`: temporary membership of an EXISTING user in groups.
 * Both speak LDAP over TLS only and never change an object Timebox did not create or was not asked
 * to change.
 */
import type { ConnectorDefinition } from '../contract.js';
import { lazyInstance } from '../lazy-instance.js';
import {
  type ActiveDirectoryConfig,
  type ActiveDirectoryGroupsConfig,
  activeDirectoryConfigSchema,
  activeDirectorySecretBinding,
  activeDirectoryGroupsConfigSchema,
} from './config.js';
import { isWithin, parseDn } from './dn.js';
import { PASSWORD_LENGTH, accountNameRules, jitAccountNameRules, validateAccountName, validateEntitlementName, validateJitAccountName } from './names.js';

export {
  activeDirectoryConfigSchema,
  activeDirectoryGroupsConfigSchema,
  type ActiveDirectoryConfig,
  type ActiveDirectoryGroupsConfig,
} from './config.js';

/** Groups are granted only under baseDn (activation refuses the rest): a policy naming one outside allows nothing. */
const outsideBaseDn = (baseDn: string, dn: string) => (isWithin(dn, baseDn) ? null : `group ${dn} is outside the target's baseDn ${baseDn}; Timebox only grants groups under it`);

/** sAMAccountNames are unique per domain: the DC components of baseDn name it. */
const domainOf = (baseDn: string) =>
  parseDn(baseDn).flatMap((rdn) => rdn.filter((a) => a.type.toLowerCase() === 'dc').map((a) => a.value.toLowerCase())).join('.');

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
  entitlementOutOfScope: (config, name) => outsideBaseDn(config.baseDn, name),
  accountScope: (config) => `ad:${domainOf(config.baseDn)}`,
  passwordPolicy: { length: PASSWORD_LENGTH },
  // The LDAP client and the directory code load on the first call (lazy-instance.ts).
  create: (config, services) =>
    lazyInstance(['rotate', 'extend', 'accountStatus', 'entitlementExists', 'deleteAccount'], async () => (await import('./instances.js')).createJitInstance(config, services)),
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
  userScopeKeys: ['url', 'baseDn'],
  validateAccountName,
  validateEntitlementName,
  entitlementOutOfScope: (config, name) => outsideBaseDn(config.baseDn, name),
  passwordPolicy: { length: PASSWORD_LENGTH },
  create: (config, services) => lazyInstance(['entitlementExists'], async () => (await import('./instances.js')).createGroupsInstance(config, services)),
};
