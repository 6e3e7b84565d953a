/**
 * PostgreSQL roles connector: a JIT account is a per-person LOGIN role, entitlements are existing
 * group roles it is made a member of. Native expiry: VALID UNTIL. Revocation removes memberships,
 * disables the login, rotates the password and terminates live sessions.
 */
import type { ConnectorDefinition } from '../contract.js';
import { lazyInstance } from '../lazy-instance.js';
import { type PostgresConfig, postgresConfigSchema, postgresSecretBinding } from './config.js';
import { canonicalHost } from '../../net/canonical-host.js';
import { accountNameRules, validateAccountName, validateEntitlementName } from './names.js';

export { postgresConfigSchema, type PostgresConfig } from './config.js';

export const postgresConnector: ConnectorDefinition<PostgresConfig, 'postgres'> = {
  kind: 'postgres',
  label: 'PostgreSQL',
  help: 'A grant enables the person’s own JIT login role with the chosen roles, until the grant ends.',
  configSchema: postgresConfigSchema,
  accountNameRules,
  capabilities: { nativeExpiry: true, endsSessions: true, canRotate: true, jitAccounts: true, liveDrift: true },
  secretBinding: postgresSecretBinding,
  validateAccountName,
  validateEntitlementName,
  // Roles are per cluster: every database of one server shares them.
  accountScope: (config) => `postgres://${canonicalHost(config.host)}:${config.port}`,
  passwordPolicy: { length: 32 },
  // The role statements load on the first call (lazy-instance.ts).
  create: (config, services) =>
    lazyInstance(['rotate', 'accountStatus', 'entitlementExists', 'extend', 'deleteAccount'], async () => (await import('./instance.js')).createPostgresInstance(config, services)),
};
