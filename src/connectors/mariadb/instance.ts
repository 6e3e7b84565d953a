/**
 * A MariaDB target's instance: a mysql2 pool and the account statements, loaded on the first call
 * to a target of this kind (mariadb-connector.ts holds the definition).
 */
import type { PoolConnection as CoreConnection } from 'mysql2';
import mysql from 'mysql2/promise';
import type { ConnectorServices, EntitlementPage } from '../contract.js';
import type { LoadedInstance } from '../lazy-instance.js';
import { targetCaller } from '../target-call.js';
import { dropUser, extendUser, grantUser, revokeUser, rotateUser, userStatus, verifyUser } from './accounts.js';
import { grantableRoles } from './catalog.js';
import { checkTarget } from './check.js';
import { type MariadbConfig, mariadbConfigSchema, poolOptions } from './config.js';
import { toTargetError } from './errors.js';
import { validateEntitlementName } from './names.js';
import { withConnection } from './session.js';

export function createMariadbInstance(
  rawConfig: MariadbConfig,
  services?: ConnectorServices,
): LoadedInstance<'entitlementExists' | 'rotate' | 'accountStatus' | 'extend' | 'deleteAccount'> {
  const config = mariadbConfigSchema.parse(rawConfig);
  const where = `${config.host}:${config.port}`;
  const pool = mysql.createPool(poolOptions(config, services?.outbound));
  // Backstop events are scheduled in UTC: every session works in UTC, set once as it opens (the
  // statement is queued before any caller's). A session that cannot is closed, failing its caller.
  pool.on('connection', (opened) => {
    // mysql2 hands over its callback-style connection here, whatever its promise typings say.
    const conn = opened as unknown as CoreConnection;
    conn.query("SET time_zone = '+00:00'", (err) => {
      if (err) conn.destroy();
    });
  });
  let closed: Promise<void> | undefined;

  const call = targetCaller('mariadb', where, toTargetError);

  // What may be offered: held WITH ADMIN OPTION, and reaching no further than the databases.
  const roles = () => withConnection(pool, async (c) => (await grantableRoles(c)).filter((r) => !r.reachesHost).map((r) => r.role));

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
