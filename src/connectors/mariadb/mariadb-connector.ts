/**
 * MariaDB connector: a JIT account is a per-person user (`<name>_jit`@`<accountHost>`), entitlements
 * are roles the service account holds WITH ADMIN OPTION. Native expiry: an event that locks the
 * account at the grant's end. Revocation locks, strips roles, rotates the password, ends sessions.
 */
import mysql from 'mysql2/promise';
import type { ConnectorContext, ConnectorDefinition, ConnectorInstance, ConnectorServices, EntitlementPage } from '../contract.js';
import { dropUser, extendUser, grantUser, revokeUser, rotateUser, userStatus, verifyUser } from './accounts.js';
import { grantableRoles } from './catalog.js';
import { checkTarget } from './check.js';
import { type MariadbConfig, mariadbConfigSchema, mariadbSecretBinding, poolOptions } from './config.js';
import { canonicalHost } from '../../net/canonical-host.js';
import { toTargetError } from './errors.js';
import { accountNameRules, validateAccountName, validateEntitlementName } from './names.js';
import { withConnection } from './session.js';

export { mariadbConfigSchema, type MariadbConfig } from './config.js';

function createInstance(rawConfig: MariadbConfig, services?: ConnectorServices): ConnectorInstance {
  const config = mariadbConfigSchema.parse(rawConfig);
  const where = `${config.host}:${config.port}`;
  const pool = mysql.createPool(poolOptions(config, services?.outbound));
  let closed: Promise<void> | undefined;

  async function call<T>(ctx: ConnectorContext, op: string, fn: () => Promise<T>): Promise<T> {
    try {
      ctx.signal?.throwIfAborted();
      return await fn();
    } catch (err) {
      const mapped = toTargetError(err, where);
      ctx.log.warn({ target: where, op, errorClass: mapped.errorClass, err: mapped.message }, 'mariadb target call failed');
      throw mapped;
    }
  }

  const roles = () => withConnection(pool, grantableRoles);

  return {
    check: (ctx) => call(ctx, 'check', () => checkTarget(pool, config)),
    listEntitlements: (ctx, q) =>
      call(ctx, 'listEntitlements', async (): Promise<EntitlementPage> => {
        const search = q.search?.trim().toLowerCase();
        const all = (await roles()).filter((r) => validateEntitlementName(r) === null && (!search || r.toLowerCase().includes(search)));
        const after = q.cursor ? all.filter((r) => r > q.cursor!) : all;
        const limit = Math.max(1, Math.min(500, Math.floor(q.limit)));
        const page = after.slice(0, limit);
        return {
          items: page.map((r) => ({ externalId: r, displayName: r })),
          nextCursor: after.length > limit ? (page.at(-1) ?? null) : null,
        };
      }),
    entitlementExists: (ctx, name) =>
      call(ctx, 'entitlementExists', async () => validateEntitlementName(name) === null && (await roles()).includes(name)),
    grant: (ctx, spec) =>
      call(ctx, 'grant', async () => {
        const handle = await grantUser(pool, config, spec);
        ctx.log.info({ target: where, grantId: spec.grantId, ...handle }, 'mariadb JIT account enabled');
        return { handle: { ...handle }, credential: { username: handle.username, password: spec.password } };
      }),
    revoke: (ctx, spec) =>
      call(ctx, 'revoke', async () => {
        await revokeUser(pool, config, spec);
        ctx.log.info({ target: where, grantId: spec.grantId, retain: spec.retain }, 'mariadb grant revoked');
      }),
    verify: (ctx, spec) => call(ctx, 'verify', () => verifyUser(pool, config, spec)),
    rotate: (ctx, handle, password, owner) => call(ctx, 'rotate', () => rotateUser(pool, config, handle, password, owner)),
    accountStatus: (ctx, name, owner) => call(ctx, 'accountStatus', () => userStatus(pool, config, name, owner)),
    extend: (ctx, handle, until) => call(ctx, 'extend', () => extendUser(pool, config, handle, until)),
    deleteAccount: (ctx, username, handle, owner) =>
      call(ctx, 'deleteAccount', async () => {
        await dropUser(pool, config, username, handle, owner);
        ctx.log.info({ target: where, username }, 'mariadb JIT account deleted');
      }),
    close: () => {
      closed ??= pool.end();
      return closed;
    },
  };
}

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
  create: createInstance,
};
