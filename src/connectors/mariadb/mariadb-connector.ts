/**
 * MariaDB connector: a JIT account is a per-person user (`<name>_jit`@`<accountHost>`), entitlements
 * are roles the service account holds WITH ADMIN OPTION. Native expiry: an event that locks the
 * account at the grant's end. Revocation locks, strips roles, rotates the password, ends sessions.
 */
import type { ConnectorDefinition } from '../contract.js';
import { lazyInstance } from '../lazy-instance.js';
import { type MariadbConfig, mariadbConfigSchema, mariadbSecretBinding } from './config.js';
import { canonicalHost } from '../../net/canonical-host.js';
import { accountNameRules, validateAccountName, validateEntitlementName } from './names.js';

export { mariadbConfigSchema, type MariadbConfig } from './config.js';

export const mariadbConnector: ConnectorDefinition<MariadbConfig, 'mariadb'> = {
  kind: 'mariadb',
  label: 'MariaDB / MySQL',
  help: 'A grant enables the person’s own JIT user with the chosen roles; the server itself locks it at the end.',
  configSchema: mariadbConfigSchema,
  accountNameRules,
  capabilities: { nativeExpiry: true, endsSessions: true, canRotate: true, jitAccounts: true, liveDrift: true },
  secretBinding: mariadbSecretBinding,
  validateAccountName,
  validateEntitlementName,
  // Users are per server: every schema shares them.
  accountScope: (config) => `mariadb://${canonicalHost(config.host)}:${config.port}`,
  passwordPolicy: { length: 32 },
  // The mysql2 driver and the account statements load on the first call (lazy-instance.ts).
  create: (config, services) =>
    lazyInstance(['entitlementExists', 'rotate', 'accountStatus', 'extend', 'deleteAccount'], async () => (await import('./instance.js')).createMariadbInstance(config, services)),
};
