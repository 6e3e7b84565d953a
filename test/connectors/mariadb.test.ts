/**
 * The MariaDB connector against a real MariaDB server (Debian's mariadb-server) over verified TLS:
 * the shared conformance suite, what `check` names, and names refused before anything is created.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeConnectorConformance } from '../../src/connectors/conformance.js';
import type { ConnectorContext, ConnectorInstance, GrantSpec } from '../../src/connectors/contract.js';
import { mariadbConnector } from '../../src/connectors/mariadb/mariadb-connector.js';
import { TargetError } from '../../src/core/errors.js';
import { type MariaDbServer, type MariadbTarget, prepareMariadbTarget, startMariaDb } from '../harness/mariadb.js';

const ctx: ConnectorContext = { log: pino({ level: 'silent' }) };
const hex = (n: number) => randomBytes(n).toString('hex');
const pw = () => `Pw-${randomBytes(18).toString('base64url')}`;

let server: MariaDbServer | undefined;
let starting: Promise<MariaDbServer> | undefined;
const shared = () => (starting ??= startMariaDb({ name: 'mariadb-connector' }).then((s) => (server = s)));
afterAll(async () => {
  await server?.destroy();
});

async function canLogin(s: MariaDbServer, user: string, password: string): Promise<boolean> {
  try {
    const c = await mysql.createConnection({ host: s.host, port: s.port, user, password, ssl: { ca: s.caPem } });
    await c.query('SELECT 1');
    await c.end();
    return true;
  } catch {
    return false;
  }
}

describeConnectorConformance('mariadb', async () => {
  const s = await shared();
  const t = await prepareMariadbTarget(s);
  return {
    definition: mariadbConnector,
    config: mariadbConnector.configSchema.parse(t.config),
    entitlements: [t.readers, t.writers],
    newUsername: () => `conf_${hex(4)}_jit`,
    canLogin: (u, p) => canLogin(s, u, p),
    cleanup: async () => {},
  };
});

describe('mariadb connector against a real server', () => {
  let s: MariaDbServer;
  let t: MariadbTarget;
  let target: ConnectorInstance;
  const spec = (username: string, password: string, entitlements: string[]): GrantSpec => ({
    grantId: `g-${hex(4)}`,
    account: { username, ownerDisplay: "Alice O'Neil", owner: { accountId: randomUUID(), installationId: randomUUID() } },
    entitlements,
    notAfter: new Date(Date.now() + 600_000),
    accountNotAfter: new Date(Date.now() + 600_000),
    reason: 'INC-42; fix "prod"',
    password,
  });

  beforeAll(async () => {
    s = await shared();
    t = await prepareMariadbTarget(s);
    target = mariadbConnector.create(mariadbConnector.configSchema.parse(t.config));
  });
  afterAll(async () => {
    await target?.close();
  });

  it('check names every requirement and passes for the documented setup', async () => {
    const report = await target.check(ctx);
    expect(report.items.map((i) => i.name)).toEqual([
      'connection', 'authentication', 'server version', 'create users', 'end sessions', 'read accounts',
      'default roles', 'backstop events', 'event scheduler', 'account markers', 'roles',
    ]);
    expect(report.items.filter((i) => !i.ok)).toEqual([]);
    expect(report.items[0]!.message).toMatch(/over TLS/);
  });

  it('check says what is missing for a service account without privileges', async () => {
    const c = await s.admin();
    const weak = `weak_${hex(3)}`;
    await c.query(`CREATE USER '${weak}'@'%' IDENTIFIED BY 'weak-pass-1'`);
    await c.end();
    const w = mariadbConnector.create(mariadbConnector.configSchema.parse({ ...t.config, user: weak, password: 'weak-pass-1' }));
    const report = await w.check(ctx);
    await w.close();
    expect(report.ok).toBe(false);
    const failed = Object.fromEntries(report.items.filter((i) => !i.ok).map((i) => [i.name, i.message]));
    expect(failed['create users']).toMatch(/GRANT CREATE USER/);
    expect(failed['end sessions']).toMatch(/CONNECTION ADMIN/);
    expect(failed['backstop events']).toMatch(/GRANT EVENT/);
    expect(failed['read accounts']).toMatch(/mysql.global_priv/);
  });

  it('refuses a server certificate its CA did not sign', async () => {
    const other = mariadbConnector.create(mariadbConnector.configSchema.parse({ ...t.config, caPem: undefined }));
    const report = await other.check(ctx);
    await other.close();
    expect(report.ok).toBe(false);
    expect(report.items[0]!.message).toMatch(/certificate/i);
  });

  it('refuses reserved, too long and quoting-trick names before touching the server', () => {
    for (const bad of ['root', 'mysql', 'mariadb_sys', 'public', 'current_user', 'a'.repeat(81), "x'@'%", 'ann`jit', 'Ann_jit', 'ann jit']) {
      expect(mariadbConnector.validateAccountName(bad)).not.toBeNull();
    }
    expect(mariadbConnector.validateAccountName('ann_jit')).toBeNull();
    expect(mariadbConnector.validateAccountName('a'.repeat(80))).toBeNull();
    for (const bad of ['PUBLIC', 'none', "r'; DROP USER root; --", 'r`x']) expect(mariadbConnector.validateEntitlementName(bad)).not.toBeNull();
  });

  it('roles that reach the database host (FILE, SUPER), themselves or through a role, are neither listed nor granted', async () => {
    const c = await s.admin();
    const tag = hex(3);
    const files = `files_${tag}`;
    const wraps = `wraps_${tag}`;
    const settings = `settings_${tag}`;
    await c.query(`CREATE ROLE \`${files}\``);
    await c.query(`GRANT FILE ON *.* TO \`${files}\``);
    // Only a role that holds it: FILE through another role.
    await c.query(`CREATE ROLE \`${wraps}\``);
    await c.query(`GRANT SELECT ON shop.* TO \`${wraps}\``);
    await c.query(`GRANT \`${files}\` TO \`${wraps}\``);
    await c.query(`CREATE ROLE \`${settings}\``);
    await c.query(`GRANT SUPER ON *.* TO \`${settings}\``);
    for (const r of [files, wraps, settings]) await c.query(`GRANT \`${r}\` TO ${mysql.escape(t.config.user)}@'%' WITH ADMIN OPTION`);
    await c.end();

    const listed = (await target.listEntitlements!(ctx, { limit: 500 })).items.map((i) => i.externalId);
    expect(listed).toContain(t.readers);
    for (const r of [files, wraps, settings]) {
      expect(listed).not.toContain(r);
      expect(await target.entitlementExists!(ctx, r)).toBe(false);
    }
    const name = `host_${hex(3)}_jit`;
    const err = await target.grant(ctx, spec(name, pw(), [t.readers, wraps])).catch((e: unknown) => e);
    expect((err as TargetError).refusal).toBe('entitlement_unfit');
    expect((err as TargetError).message).toMatch(new RegExp(`role\\(s\\) "${wraps}" cannot be entitlements: they carry FILE or SUPER`));
    // Refused before anything was created.
    expect(await target.accountStatus!(ctx, name, { accountId: randomUUID(), installationId: randomUUID() })).toEqual({ status: 'free' });
  });

  it('a foreign user is reported foreign and never changed', async () => {
    const c = await s.admin();
    const name = `bob_${hex(3)}`;
    await c.query(`CREATE USER '${name}'@'%' IDENTIFIED BY 'bobs-own-pass'`);
    await c.end();
    const owner = { accountId: randomUUID(), installationId: randomUUID() };
    expect(await target.accountStatus!(ctx, name, owner)).toEqual({ status: 'foreign', reason: 'not_timebox' });
    expect(await target.accountStatus!(ctx, t.readers, owner)).toEqual({ status: 'foreign', reason: 'not_an_account' });
    const err = await target.grant(ctx, spec(name, pw(), [t.readers])).catch((e: unknown) => e);
    expect((err as TargetError).refusal).toBe('account_foreign');
    expect(await canLogin(s, name, 'bobs-own-pass')).toBe(true);
  });

  it("a revoke ends only the JIT user's own sessions, not those of a user whose name differs by case or accent", async () => {
    const name = `sess_${hex(3)}_jit`;
    const lookalikes = [name.toUpperCase(), name.replace('s', 'š')];
    const c = await s.admin();
    for (const u of lookalikes) await c.query(`CREATE USER ${mysql.escape(u)}@'%' IDENTIFIED BY 'their-own-pass-1'`);
    await c.end();
    const theirs = await Promise.all(
      lookalikes.map((user) => mysql.createConnection({ host: s.host, port: s.port, user, password: 'their-own-pass-1', ssl: { ca: s.caPem } })),
    );
    const g = spec(name, pw(), [t.readers]);
    const { handle } = await target.grant(ctx, g);
    const r = { grantId: g.grantId, handle, retain: [], accountStillNeededUntil: null, rotatePassword: pw() };
    await target.revoke(ctx, r);
    expect(await target.verify(ctx, r)).toMatchObject({ state: 'absent', findings: [] });
    const alive = await Promise.all(theirs.map((x) => x.query('SELECT 1').then(() => true, () => false)));
    await Promise.all(theirs.map((x) => x.end().catch(() => {})));
    expect(alive).toEqual([true, true]);
  });

  it('the backstop event locks the account at its end by itself', async () => {
    const name = `evt_${hex(3)}_jit`;
    const password = pw();
    const g = spec(name, password, [t.readers]);
    g.accountNotAfter = new Date(Date.now() + 3_000);
    await target.grant(ctx, g);
    expect(await canLogin(s, name, password)).toBe(true);
    const deadline = Date.now() + 30_000;
    while (await canLogin(s, name, password)) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  it('goes on when MariaDB ends the pool\'s idle connections (a restart, an administrator\'s KILL): the next grant and revoke work', async () => {
    const killServiceConnections = async () => {
      const c = await s.admin();
      try {
        const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT id FROM information_schema.processlist WHERE user = ?', [t.config.user]);
        for (const r of rows) await c.query(`KILL CONNECTION ${Number(r.id)}`);
        return rows.length;
      } finally {
        await c.end();
      }
    };
    const warm = `warm_${hex(3)}_jit`;
    await target.grant(ctx, spec(warm, pw(), [t.readers])); // the pool now holds connections
    expect(await killServiceConnections()).toBeGreaterThan(0);

    const name = `kill_${hex(3)}_jit`;
    const password = pw();
    const g = spec(name, password, [t.readers]);
    // A connection the pool has not yet noticed is dead may fail one call, as a transient error.
    const first = await target.grant(ctx, g).catch((e: unknown) => e);
    const { handle } = first instanceof TargetError && first.retryable ? await target.grant(ctx, g) : (first as Awaited<ReturnType<ConnectorInstance['grant']>>);
    expect(await canLogin(s, name, password)).toBe(true);
    const r = { grantId: g.grantId, handle, retain: [], accountStillNeededUntil: null, rotatePassword: pw() };
    await target.revoke(ctx, r);
    expect(await target.verify(ctx, r)).toMatchObject({ state: 'absent' });
    expect(await canLogin(s, name, password)).toBe(false);
  });
});
