/**
 * What Timebox adds to a MariaDB JIT grant + revoke against a real MariaDB (at production
 * durability), beside the same SQL statements sent by a bare mysql2 script with nothing around
 * them, in alternating blocks of the same run; figures are medians over the block pairs. Accounts
 * exist before measuring on every side.
 *
 * - The lifecycle side goes through Timebox's app layer (requestAccess, the activation job, ending
 *   the grant, the revoke job with its verify). Direct time ÷ its time is the goal figure (≥ 0.8).
 * - The connector side calls the MariaDB connector as the lifecycle calls it (a request's checks,
 *   grant, revoke, verify), statement for statement what the bare side sends, with no store
 *   around it: the rest of the difference is the store's durable bookkeeping of a lifecycle.
 *
 * Run alone: `npx tsx bench/mariadb-overhead.ts` (BENCH_QUICK=1 for fewer round trips).
 * The Timebox side uses the store given by DATABASE_URL, or the embedded one.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { endGrant } from '../src/app/grants.js';
import { requestAccess, type Requester } from '../src/app/request-access.js';
import { createOperators } from '../src/auth/operators.js';
import { mariadbConnector } from '../src/connectors/mariadb/mariadb-connector.js';
import type { ConnectorContext } from '../src/connectors/contract.js';
import { startTimebox, type Timebox } from '../src/server/start.js';
import { type MariaDbServer, type MariadbTarget, prepareMariadbTarget, startMariaDb } from '../test/harness/mariadb.js';
import { benchLogger, say, serverEnv } from './setup.js';
import { summarize } from './stats.js';

export interface MariadbOverheadFigures {
  roundTrips: number;
  timebox: { perSecond: number };
  direct: { perSecond: number };
  connector: { perSecond: number };
  /** Direct time ÷ the whole lifecycle's time (1: no overhead; the goal figure); median of the block pairs. */
  ratio: number;
  /** Direct time ÷ the connector's time alone; median of the block pairs. */
  connectorRatio: number;
}

async function call(p: string, base: string, method: string, token: string | null, body?: unknown) {
  const res = await fetch(new URL(p, base), {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

const hash = (pw: string) => `*${createHash('sha1').update(createHash('sha1').update(pw).digest()).digest('hex').toUpperCase()}`;

/** The direct side: the connector's statements (lookups included), one pooled connection per call. */
function directClient(db: MariaDbServer, t: MariadbTarget) {
  const pool = mysql.createPool({ host: db.host, port: db.port, user: t.config.user, password: t.config.password, ssl: { ca: db.caPem }, connectionLimit: 4 });
  // UTC once per session, as the connector's pool does.
  pool.on('connection', (conn) => void (conn as unknown as { query: (s: string, cb: () => void) => void }).query("SET time_zone = '+00:00'", () => {}));
  const role = t.readers;
  const q = async (c: mysql.PoolConnection, sql: string, v: unknown[] = []) => (await c.query(sql, v))[0];
  const locked = async <T>(user: string, fn: (c: mysql.PoolConnection) => Promise<T>) => {
    const c = await pool.getConnection();
    try {
      await q(c, 'SELECT GET_LOCK(?, 10)', [`timebox:user:${user}`]);
      return await fn(c);
    } finally {
      await q(c, 'SELECT RELEASE_LOCK(?)', [`timebox:user:${user}`]);
      c.release();
    }
  };
  const once = async (sql: string, v: unknown[] = []) => {
    const c = await pool.getConnection();
    try {
      return await q(c, sql, v);
    } finally {
      c.release();
    }
  };
  const findUser = (c: mysql.PoolConnection, u: string) =>
    q(c, "SELECT Host, JSON_VALUE(Priv, '$.is_role'), JSON_VALUE(Priv, '$.account_locked') FROM mysql.global_priv WHERE User = ?", [u]);
  const roles = (c: mysql.PoolConnection) =>
    q(c, "SELECT Role FROM mysql.roles_mapping WHERE User = SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AND Host = SUBSTRING_INDEX(CURRENT_USER(), '@', -1) AND Admin_option = 'Y'");
  const held = (c: mysql.PoolConnection, u: string) => q(c, "SELECT Role FROM mysql.roles_mapping WHERE User = ? AND Host = '%' AND Role IN (?)", [u, [role]]);
  const all = (c: mysql.PoolConnection, u: string) => q(c, "SELECT Role FROM mysql.roles_mapping WHERE User = ? AND Host = '%' ORDER BY Role", [u]);
  const event = (u: string) => `timebox.\`tb_lock_${createHash('sha256').update(`${u}@%`).digest('hex').slice(0, 40)}\``;
  const at = () => mysql.escape(new Date(Date.now() + 600_000).toISOString().slice(0, 19).replace('T', ' '));
  return {
    async create(u: string) {
      await once(`CREATE USER ${mysql.escape(u)}@'%' IDENTIFIED BY PASSWORD ${mysql.escape(hash(randomBytes(9).toString('hex')))} ACCOUNT LOCK`);
      await once('REPLACE INTO timebox.jit_accounts VALUES (?, ?, ?)', [u, '%', 'Timebox JIT account (bench baseline)']);
    },
    async roundTrip(u: string) {
      const who = `${mysql.escape(u)}@'%'`;
      // The request's checks: the entitlement exists, the name is free or ours.
      const c0 = await pool.getConnection();
      await roles(c0);
      await findUser(c0, u);
      await q(c0, 'SELECT marker FROM timebox.jit_accounts WHERE user = ?', [u]);
      c0.release();
      await locked(u, async (c) => {
        await findUser(c, u);
        await q(c, 'SELECT marker FROM timebox.jit_accounts WHERE user = ?', [u]);
        await roles(c);
        await q(c, 'REPLACE INTO timebox.jit_accounts (user, host, marker) VALUES (?, ?, ?)', [u, '%', 'Timebox JIT account (bench baseline): grant']);
        await q(c, `ALTER USER ${who} IDENTIFIED BY PASSWORD ${mysql.escape(hash(randomBytes(9).toString('hex')))} ACCOUNT LOCK`);
        await held(c, u);
        await q(c, `GRANT \`${role}\` TO ${who}`);
        await q(c, `SET DEFAULT ROLE \`${role}\` FOR ${who}`);
        await q(c, `CREATE OR REPLACE EVENT ${event(u)} ON SCHEDULE AT ${at()} ON COMPLETION NOT PRESERVE COMMENT 'bench' DO ALTER USER ${who} ACCOUNT LOCK`);
        await q(c, `ALTER USER ${who} ACCOUNT UNLOCK`);
      });
      await locked(u, async (c) => {
        await findUser(c, u);
        await q(c, 'SELECT marker FROM timebox.jit_accounts WHERE user = ?', [u]);
        await q(c, `ALTER USER ${who} ACCOUNT LOCK`);
        await all(c, u);
        await q(c, `REVOKE \`${role}\` FROM ${who}`);
        await q(c, `SET DEFAULT ROLE NONE FOR ${who}`);
        await q(c, `ALTER USER ${who} IDENTIFIED BY PASSWORD ${mysql.escape(hash(randomBytes(9).toString('hex')))}`);
        await q(c, 'SELECT ID FROM information_schema.PROCESSLIST WHERE CAST(USER AS BINARY) = CAST(? AS BINARY) AND ID <> CONNECTION_ID()', [u]);
        await q(c, `DROP EVENT IF EXISTS ${event(u)}`);
      });
      const c1 = await pool.getConnection();
      await findUser(c1, u);
      await all(c1, u);
      await q(c1, 'SELECT ID FROM information_schema.PROCESSLIST WHERE CAST(USER AS BINARY) = CAST(? AS BINARY) AND ID <> CONNECTION_ID()', [u]);
      await q(c1, "SELECT 1 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'timebox' AND EVENT_NAME = ?", [u]);
      c1.release();
    },
    close: () => pool.end(),
  };
}

async function timeboxSide(tb: Timebox, t: MariadbTarget) {
  const token = (await call('/api/v1/auth/login', tb.url, 'POST', null, tb.bootstrap)).token as string;
  // The printed password must be changed before anything else.
  await call('/api/v1/me/password', tb.url, 'POST', token, { currentPassword: tb.bootstrap!.password, newPassword: `Bench-${randomBytes(12).toString('base64url')}` });
  const T = '/api/v1/tenants/default';
  const { target } = await call(`${T}/targets`, tb.url, 'POST', token, { name: 'bench-mariadb', kind: 'mariadb', config: t.config });
  await call(`${T}/policies`, tb.url, 'POST', token, {
    name: 'bench', targetId: target.id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, reasonMinLength: 0,
  });
  const tenantId = (await tb.store.db.selectFrom('tenants').select('id').where('slug', '=', 'default').executeTakeFirstOrThrow()).id;
  const email = 'mb0@bench.invalid';
  // Straight into the store: this person never signs in, they only hold grants.
  const operators = createOperators({ db: tb.store.db, audit: tb.deps.audit, clock: tb.deps.clock });
  const system = { type: 'system' as const, id: null };
  const op = await operators.create({ email, displayName: 'Bench 0' }, system);
  await operators.setMembership(tenantId, op.id, ['requester'], system);
  const who: Requester = { operatorId: op.id, email, displayName: 'Bench 0', roles: ['requester'] };
  return async () => {
    const actor = { type: 'operator' as const, id: who.operatorId };
    const g = await requestAccess(tb.deps, actor, tenantId, who, { targetId: target.id, entitlements: [t.readers], durationSeconds: 600, reason: 'benchmark' });
    await tb.scheduler.runNow(g.id, 'activate');
    await endGrant(tb.deps, actor, tenantId, who, g.id, 'benchmark done');
    await tb.scheduler.runNow(g.id, 'revoke');
    const state = await tb.store.db.selectFrom('grants').select(['state', 'last_error']).where('id', '=', g.id).executeTakeFirstOrThrow();
    if (state.state !== 'revoked') throw new Error(`a benchmark grant ended ${state.state}: ${state.last_error ?? ''}`);
  };
}

/** The connector alone, as the lifecycle calls it: a request's checks, grant, revoke, verify. */
function connectorSide(t: MariadbTarget) {
  const instance = mariadbConnector.create(mariadbConnector.configSchema.parse(t.config));
  const ctx: ConnectorContext = { log: benchLogger() };
  const owner = { accountId: randomUUID(), installationId: randomUUID() };
  const username = 'mbc0_jit';
  const password = () => randomBytes(24).toString('base64url');
  return {
    async roundTrip() {
      if (!(await instance.entitlementExists!(ctx, t.readers))) throw new Error(`role ${t.readers} not found`);
      await instance.accountStatus!(ctx, username, owner);
      const grantId = randomUUID();
      const end = new Date(Date.now() + 600_000);
      const g = await instance.grant(ctx, {
        grantId, account: { username, ownerDisplay: 'Bench', owner }, entitlements: [t.readers], notAfter: end, accountNotAfter: end, reason: 'benchmark', password: password(),
      });
      const spec = { grantId, handle: g.handle, retain: [], accountStillNeededUntil: null, rotatePassword: password() };
      await instance.revoke(ctx, spec);
      const v = await instance.verify(ctx, spec);
      if (v.state !== 'absent') throw new Error(`a benchmark revoke left ${v.state}`);
    },
    close: () => instance.close(),
  };
}

export async function measureMariadbOverhead(o: { databaseUrl?: string; roundTrips: number }): Promise<MariadbOverheadFigures> {
  // At production durability, as the store's PostgreSQL is: both sides pay the same flushes.
  const db = await startMariaDb({ name: 'bench-mariadb', durable: true });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'timebox-bench-mariadb-'));
  let tb: Timebox | null = null;
  let direct: ReturnType<typeof directClient> | null = null;
  let connector: ReturnType<typeof connectorSide> | null = null;
  try {
    const t = await prepareMariadbTarget(db);
    tb = await startTimebox({
      env: serverEnv({ ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : {}), TIMEBOX_DATA_DIR: dataDir, TIMEBOX_RECONCILE_MS: '0' }),
      logger: benchLogger(),
    });
    const timebox = await timeboxSide(tb, t);
    direct = directClient(db, t);
    connector = connectorSide(t);
    const user = 'mbl0_jit';
    await direct.create(user);
    // Warm every side (a first grant creates the account).
    for (let i = 0; i < 3; i++) {
      await direct.roundTrip(user);
      await connector.roundTrip();
      await timebox();
    }
    await tb.audit.sealer.sealNow();
    const size = 10;
    const blocks = Math.max(2, Math.round(o.roundTrips / size));
    const block = async (fn: () => Promise<void>) => {
      const s = performance.now();
      for (let k = 0; k < size; k++) await fn();
      return performance.now() - s;
    };
    const ms = { direct: 0, connector: 0, timebox: 0 };
    const ratios: number[] = [];
    const connectorRatios: number[] = [];
    // Timebox's block ends when its events are sealed too: that work is Timebox's, and left to
    // its background loop it would run during the next side's block (in the same thread, on the
    // embedded store) and be counted there.
    const timeboxBlock = async () => {
      const s = performance.now();
      for (let k = 0; k < size; k++) await timebox();
      await tb!.audit.sealer.sealNow();
      return performance.now() - s;
    };
    for (let i = 0; i < blocks; i++) {
      const d = await block(() => direct!.roundTrip(user));
      const c = await block(() => connector!.roundTrip());
      const tt = await timeboxBlock();
      ms.direct += d;
      ms.connector += c;
      ms.timebox += tt;
      ratios.push(d / tt);
      connectorRatios.push(d / c);
    }
    const n = blocks * size;
    const rate = (total: number) => ({ perSecond: n / (total / 1000) });
    const r: MariadbOverheadFigures = {
      roundTrips: n,
      direct: rate(ms.direct),
      timebox: rate(ms.timebox),
      connector: rate(ms.connector),
      ratio: summarize(ratios).p50,
      connectorRatio: summarize(connectorRatios).p50,
    };
    say(
      `MariaDB overhead, ${n} round trips each: direct ${r.direct.perSecond.toFixed(1)}/s, connector alone ${r.connector.perSecond.toFixed(1)}/s, ` +
        `whole lifecycle ${r.timebox.perSecond.toFixed(1)}/s; direct ÷ whole lifecycle ${r.ratio.toFixed(2)} (goal ≥ 0.8), direct ÷ connector ${r.connectorRatio.toFixed(2)}`,
    );
    return r;
  } finally {
    await connector?.close();
    await direct?.close();
    await tb?.close();
    await db.destroy();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await measureMariadbOverhead({ databaseUrl: process.env.DATABASE_URL, roundTrips: process.env.BENCH_QUICK === '1' ? 40 : 200 });
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}
