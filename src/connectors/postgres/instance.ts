/**
 * A PostgreSQL target's instance: a pool to the target and the role statements, loaded on the
 * first call to a target of this kind (postgres-connector.ts holds the definition).
 */
import pg from 'pg';
import type { ConnectorServices } from '../contract.js';
import type { LoadedInstance } from '../lazy-instance.js';
import { targetCaller } from '../target-call.js';
import { checkTarget } from './check.js';
import { type PostgresConfig, poolConfig, postgresConfigSchema } from './config.js';
import { groupRoleExists, listGroupRoles } from './entitlements.js';
import { toTargetError } from './errors.js';
import { dropRole, extendRole, grantRole, revokeRole, roleStatus, rotateRole, verifyRole } from './roles.js';

export function createPostgresInstance(
  rawConfig: PostgresConfig,
  services?: ConnectorServices,
): LoadedInstance<'rotate' | 'accountStatus' | 'entitlementExists' | 'extend' | 'deleteAccount'> {
  const config = postgresConfigSchema.parse(rawConfig);
  const where = `${config.host}:${config.port}/${config.database}`;
  const pool = new pg.Pool(poolConfig(config, services?.outbound));
  // Idle connections die when the server restarts; the pool drops them. Without a listener the
  // 'error' event would crash the process.
  pool.on('error', () => {});
  let closed: Promise<void> | undefined;

  const call = targetCaller('postgres', where, toTargetError);

  return {
    check: (ctx) => call(ctx, 'check', () => checkTarget(pool, config)),
    listEntitlements: (ctx, q) => call(ctx, 'listEntitlements', () => listGroupRoles(pool, config.user, q)),
    grant: (ctx, spec) =>
      call(ctx, 'grant', async () => {
        const handle = await grantRole(pool, spec);
        ctx.log.info({ target: where, grantId: spec.grantId, ...handle }, 'postgres JIT account enabled');
        return { handle: { ...handle }, credential: { username: handle.username, password: spec.password } };
      }),
    revoke: (ctx, spec) =>
      call(ctx, 'revoke', async () => {
        await revokeRole(pool, spec);
        ctx.log.info({ target: where, grantId: spec.grantId, retain: spec.retain }, 'postgres grant revoked');
      }),
    verify: (ctx, spec) => call(ctx, 'verify', () => verifyRole(pool, spec)),
    rotate: (ctx, handle, password, owner) => call(ctx, 'rotate', () => rotateRole(pool, handle, password, owner)),
    accountStatus: (ctx, name, owner) => call(ctx, 'accountStatus', () => roleStatus(pool, name, owner)),
    entitlementExists: (ctx, name) => call(ctx, 'entitlementExists', () => groupRoleExists(pool, config.user, name)),
    extend: (ctx, handle, until) => call(ctx, 'extend', () => extendRole(pool, handle, until)),
    deleteAccount: (ctx, username, _handle, owner) =>
      call(ctx, 'deleteAccount', async () => {
        await dropRole(pool, username, owner);
        ctx.log.info({ target: where, username }, 'postgres JIT account deleted');
      }),
    close: () => {
      // pg.Pool throws when ended twice; closing is idempotent for callers.
      closed ??= pool.end();
      return closed;
    },
  };
}
