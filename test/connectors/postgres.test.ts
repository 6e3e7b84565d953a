/**
 * The PostgreSQL connector against a real server, judged from the outside: logins with psql and
 * pg over TCP (so scram and VALID UNTIL apply), the catalog as the admin sees it.
 * Each world has its own database and uniquely prefixed roles (roles are cluster-wide).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TargetError } from '../../src/core/errors.js';
import { describeConnectorConformance } from '../../src/connectors/conformance.js';
import type { ConnectorInstance, GrantSpec, RevokeSpec } from '../../src/connectors/contract.js';
import { postgresConfigSchema, postgresConnector } from '../../src/connectors/postgres/postgres-connector.js';
import { scramSha256Verifier } from '../../src/connectors/postgres/scram.js';
import { createTestDatabase } from '../harness/pg-database.js';
import { type PgCluster, startPostgres } from '../harness/postgres.js';

const run = promisify(execFile);
const ctx = { log: pino({ level: 'silent' }) };
const hex = (n: number) => randomBytes(n).toString('hex');
const pw = () => `Pw-${randomBytes(15).toString('base64url')}`;
const soon = (ms: number) => new Date(Date.now() + ms);

/** A database, a least-privilege service account and two group roles, all unique to this world. */
async function makeWorld(adminUrl: string) {
  const db = await createTestDatabase(adminUrl);
  const { hostname, port } = new URL(adminUrl);
  const prefix = `tb${hex(3)}`;
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const svc = { user: `${prefix}_svc`, password: pw() };
  const entitlements: [string, string] = [`${prefix}_read`, `${prefix}_write`];
  await admin.query(`CREATE ROLE ${svc.user} LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(svc.password)}`);
  await admin.query(`GRANT pg_signal_backend TO ${svc.user}`);
  for (const e of entitlements) await admin.query(`CREATE ROLE ${e} NOLOGIN`);
  await admin.query(`CREATE TABLE secrets (v text); INSERT INTO secrets VALUES ('s3cret'); GRANT SELECT ON secrets TO ${entitlements[0]}`);

  let n = 0;
  const config = (over: Record<string, unknown> = {}) =>
    postgresConfigSchema.parse({ host: hostname, port: Number(port), database: db.name, ...svc, ...over });
  const clientFor = (user: string, password: string) =>
    new pg.Client({ host: hostname, port: Number(port), database: db.name, user, password, connectionTimeoutMillis: 5000 });
  return {
    db, admin, prefix, svc, entitlements, port: Number(port), config, clientFor,
    newUsername: () => `${prefix}_u${++n}_jit`,
    async canLogin(user: string, password: string) {
      const c = clientFor(user, password);
      try {
        await c.connect();
        await c.end();
        return true;
      } catch (err) {
        if (['28P01', '28000'].includes((err as { code?: string }).code ?? '')) return false;
        throw err;
      }
    },
    async roleRow(name: string) {
      const { rows } = await admin.query(
        `SELECT rolcanlogin, shobj_description(oid, 'pg_authid') AS comment,
                ARRAY(SELECT b.rolname::text FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) AS member_of
           FROM pg_roles r WHERE rolname = $1`,
        [name],
      );
      return rows[0] as { rolcanlogin: boolean; comment: string | null; member_of: string[] } | undefined;
    },
    async cleanup() {
      const { rows } = await admin.query<{ r: string }>(
        `SELECT rolname::text AS r FROM pg_roles WHERE rolname LIKE $1 ORDER BY rolname = $2, rolname`,
        [`${prefix}\\_%`, svc.user],
      );
      await admin.query(`SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename LIKE $1`, [`${prefix}\\_%`]);
      await admin.end();
      await db.drop();
      const top = new pg.Client({ connectionString: adminUrl });
      await top.connect();
      for (const { r } of rows) await top.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(r)}`);
      await top.end();
    },
  };
}
type World = Awaited<ReturnType<typeof makeWorld>>;

const grantSpec = (w: World, username: string, password: string, over: Partial<GrantSpec> = {}): GrantSpec => ({
  grantId: `g-${hex(4)}`,
  account: { username, ownerDisplay: "Alice O'Neil" },
  entitlements: [...w.entitlements],
  notAfter: soon(600_000),
  accountNotAfter: soon(600_000),
  reason: 'INC-42; fix "prod" replica',
  password,
  ...over,
});
const revokeSpec = (handle: Record<string, unknown>, over: Partial<RevokeSpec> = {}): RevokeSpec => ({
  grantId: 'r', handle, retain: [], accountStillNeededUntil: null, rotatePassword: pw(), ...over,
});
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as TargetError);

describeConnectorConformance('postgres', async () => {
  const w = await makeWorld(inject('pgAdminUrl'));
  return { definition: postgresConnector, config: w.config(), entitlements: w.entitlements, newUsername: w.newUsername, canLogin: w.canLogin, cleanup: w.cleanup };
});

describe('postgres connector against a real server', () => {
  let w: World;
  let target: ConnectorInstance;
  beforeAll(async () => {
    w = await makeWorld(inject('pgAdminUrl'));
    target = postgresConnector.create(w.config());
  });
  afterAll(async () => {
    await target?.close();
    await w?.cleanup();
  });

  const psql = (user: string, password: string) =>
    run('psql', ['-h', '127.0.0.1', '-p', String(w.port), '-U', user, '-d', w.db.name, '-w', '-X', '-tAc', 'SELECT v FROM secrets'], {
      env: { PATH: process.env.PATH ?? '', PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' },
    });

  it('psql logs in and reads through the entitlement during the grant, and is refused after revoke', async () => {
    const user = w.newUsername();
    const password = pw();
    const spec = grantSpec(w, user, password);
    const { handle } = await target.grant(ctx, spec);
    expect((await psql(user, password)).stdout.trim()).toBe('s3cret');
    // Owner and reason reach the DBA intact, quotes and all.
    expect((await w.roleRow(user))?.comment).toBe(`Timebox JIT account of Alice O'Neil; grant ${spec.grantId}: INC-42; fix "prod" replica`);

    await target.revoke(ctx, revokeSpec(handle));
    const err = await failure(psql(user, password));
    expect(String((err as unknown as { stderr: string }).stderr)).toMatch(/password authentication failed|not permitted to log in/);
    expect(await w.roleRow(user)).toMatchObject({ rolcanlogin: false, member_of: [] });
  });

  it('revoke terminates a live session that had switched to the entitlement role', async () => {
    const user = w.newUsername();
    const password = pw();
    const { handle } = await target.grant(ctx, grantSpec(w, user, password));
    const session = w.clientFor(user, password);
    await session.connect();
    const ended = new Promise<unknown>((resolve) => {
      // 'on', not 'once': the server's FATAL and the closed socket may both be reported.
      session.on('error', resolve);
      session.on('end', () => resolve('end'));
    });
    await session.query(`SET ROLE ${w.entitlements[0]}`);
    expect((await session.query('SELECT v FROM secrets')).rows).toEqual([{ v: 's3cret' }]);

    await target.revoke(ctx, revokeSpec(handle));
    const why = await ended;
    if (why !== 'end') expect((why as { code?: string }).code).toBe('57P01');
    await expect(session.query('SELECT v FROM secrets')).rejects.toThrow();
    expect((await target.verify(ctx, revokeSpec(handle))).state).toBe('absent');
  });

  it('verify reports an account re-enabled by hand as drifted, and a second revoke repairs it', async () => {
    const user = w.newUsername();
    const { handle } = await target.grant(ctx, grantSpec(w, user, pw()));
    const spec = revokeSpec(handle);
    await target.revoke(ctx, spec);
    await w.admin.query(`ALTER ROLE ${user} LOGIN PASSWORD 'by-hand-1'; GRANT ${w.entitlements[1]} TO ${user}`);

    const drift = await target.verify(ctx, spec);
    expect(drift.state).toBe('drifted');
    expect(drift.findings).toEqual([
      { kind: 'entitlement', subject: w.entitlements[1], expected: 'absent', actual: 'present' },
      { kind: 'login', subject: user, expected: 'disabled', actual: 'enabled' },
    ]);
    await target.revoke(ctx, spec);
    expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
    expect(await w.canLogin(user, 'by-hand-1')).toBe(false);
  });

  it('VALID UNTIL refuses new logins at the end time even if revoke never runs', async () => {
    const user = w.newUsername();
    const password = pw();
    const end = soon(3000);
    await target.grant(ctx, grantSpec(w, user, password, { notAfter: end, accountNotAfter: end }));
    expect(await w.canLogin(user, password)).toBe(true);
    const deadline = Date.now() + 20_000;
    while ((await w.canLogin(user, password)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(Date.now()).toBeGreaterThanOrEqual(end.getTime());
    expect(await w.canLogin(user, password)).toBe(false);
  });

  it('refuses names with quotes, semicolons, unicode, uppercase or spaces, and creates nothing', async () => {
    for (const bad of [`${w.prefix}"x`, `${w.prefix}';drop role x;--`, `${w.prefix}_jörg`, `${w.prefix}_Bob`, `${w.prefix} x`]) {
      expect(postgresConnector.validateAccountName(bad)).toMatch(/lowercase letters, digits and underscores/);
      const err = await failure(target.grant(ctx, grantSpec(w, bad, pw())));
      expect(err.errorClass).toBe('invalid');
      expect(await w.roleRow(bad)).toBeUndefined();
    }
    const err = await failure(target.grant(ctx, grantSpec(w, w.newUsername(), pw(), { entitlements: ['x"; DROP ROLE y; --'] })));
    expect(err.errorClass).toBe('invalid');
  });

  it('an entitlement that does not exist is refused by name and no role is created', async () => {
    const user = w.newUsername();
    const missing = `${w.prefix}_nope`;
    const err = await failure(target.grant(ctx, grantSpec(w, user, pw(), { entitlements: [w.entitlements[0], missing] })));
    expect(err.errorClass).toBe('invalid');
    expect(err.message).toContain(`"${missing}" do not exist`);
    expect(await w.roleRow(user)).toBeUndefined();
  });

  it('leaves a pre-existing role that Timebox did not create untouched', async () => {
    const user = w.newUsername();
    await w.admin.query(`CREATE ROLE ${user} LOGIN PASSWORD 'theirs-1'; COMMENT ON ROLE ${user} IS 'DBA on call'`);
    const err = await failure(target.grant(ctx, grantSpec(w, user, pw())));
    expect(err.errorClass).toBe('invalid');
    expect(err.message).toBe(`role "${user}" already exists and is not a Timebox JIT account; Timebox will not change it`);
    const revokeErr = await failure(target.revoke(ctx, revokeSpec({ username: user, entitlements: [...w.entitlements] })));
    expect(revokeErr.errorClass).toBe('invalid');
    expect(await w.roleRow(user)).toEqual({ rolcanlogin: true, comment: 'DBA on call', member_of: [] });
    expect(await w.canLogin(user, 'theirs-1')).toBe(true);
  });

  it('the SCRAM verifier is byte-identical to the one PostgreSQL computes for the same salt', async () => {
    const role = `${w.prefix}_scram`;
    await w.admin.query(`SET password_encryption = 'scram-sha-256'; CREATE ROLE ${role} LOGIN PASSWORD 'Correct-Horse-9'`);
    const { rows } = await w.admin.query<{ p: string }>('SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1', [role]);
    const theirs = rows[0]!.p;
    const salt = Buffer.from(theirs.split('$')[1]!.split(':')[1]!, 'base64');
    expect(await scramSha256Verifier('Correct-Horse-9', { salt })).toBe(theirs);
    expect(await scramSha256Verifier('Correct-Horse-9')).not.toBe(theirs); // fresh random salt
  });

  it('lists group roles only, searches literally and pages by name', async () => {
    for (const r of ['a_b', 'aXb', 'zz']) await w.admin.query(`CREATE ROLE ${pg.escapeIdentifier(`${w.prefix}_${r}`)} NOLOGIN`);
    const user = w.newUsername();
    const { handle } = await target.grant(ctx, grantSpec(w, user, pw()));
    await target.revoke(ctx, revokeSpec(handle)); // a disabled JIT account is NOLOGIN but no entitlement

    const names = async (search: string, limit = 100) =>
      (await target.listEntitlements(ctx, { search, limit })).items.map((i) => i.externalId);
    const all = [`${w.prefix}_aXb`, `${w.prefix}_a_b`, `${w.prefix}_read`, `${w.prefix}_write`, `${w.prefix}_zz`];
    expect(await names(w.prefix)).toEqual(all);
    expect(await names(`${w.prefix}_a_b`)).toEqual([`${w.prefix}_a_b`]);
    expect(await names(w.prefix.toUpperCase())).toEqual(all);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await target.listEntitlements(ctx, { search: w.prefix, cursor, limit: 2 });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.externalId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
  });

  it('never offers or grants a group role that carries programs or files on the database host', async () => {
    const files = `${w.prefix}_files`;
    const ops = `${w.prefix}_ops`;
    // ops carries pg_read_server_files through files: one role removed from the built-in.
    await w.admin.query(`CREATE ROLE ${files} NOLOGIN; GRANT pg_read_server_files TO ${files}; CREATE ROLE ${ops} NOLOGIN; GRANT ${files} TO ${ops}`);
    try {
      const offered = (await target.listEntitlements(ctx, { search: w.prefix, limit: 100 })).items.map((i) => i.externalId);
      expect(offered).toContain(`${w.prefix}_read`);
      expect(offered).not.toContain(files);
      expect(offered).not.toContain(ops);
      expect(await target.entitlementExists!(ctx, ops)).toBe(false);

      const user = w.newUsername();
      const err = await failure(target.grant(ctx, grantSpec(w, user, pw(), { entitlements: [`${w.prefix}_read`, ops] })));
      expect(err.refusal).toBe('entitlement_unfit');
      expect(err.message).toBe(
        `role(s) "${ops}" cannot be entitlements: they carry pg_execute_server_program, pg_read_server_files, pg_write_server_files (programs and files on the database host)`,
      );
      // Checked before anything was created.
      expect((await w.admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user])).rowCount).toBe(0);
    } finally {
      await w.admin.query(`DROP ROLE ${ops}; DROP ROLE ${files}`);
    }
  });

  it('check() says what is fine and what a DBA must fix', async () => {
    const good = await target.check(ctx);
    expect(good.items.map((i) => [i.name, i.ok])).toEqual([
      ['connection', true], ['authentication', true], ['create roles', true], ['end sessions', true], ['server version', true],
    ]);

    const wrong = postgresConnector.create(w.config({ password: 'wrong-password' }));
    const bad = await wrong.check(ctx).finally(() => wrong.close());
    expect(bad.ok).toBe(false);
    expect(bad.items.find((i) => i.name === 'authentication')).toMatchObject({ ok: false, message: expect.stringMatching(/Authentication failed for the service account/) });

    const weakUser = `${w.prefix}_weak`;
    await w.admin.query(`CREATE ROLE ${weakUser} LOGIN PASSWORD 'weak-pass-1'`);
    const weak = postgresConnector.create(w.config({ user: weakUser, password: 'weak-pass-1' }));
    try {
      const report = await weak.check(ctx);
      expect(report.items.find((i) => i.name === 'create roles')).toMatchObject({ ok: false, message: expect.stringContaining(`ALTER ROLE "${weakUser}" CREATEROLE`) });
      expect(report.items.find((i) => i.name === 'end sessions')).toMatchObject({ ok: false, message: expect.stringContaining('GRANT pg_signal_backend') });
      const err = await failure(weak.grant(ctx, grantSpec(w, w.newUsername(), pw())));
      expect(err.errorClass).toBe('permanent');
      expect(err.message).toMatch(/lacks a privilege: permission denied to create role/);
    } finally {
      await weak.close();
    }

    const tls = postgresConnector.create(w.config({ ssl: 'require' }));
    const tlsReport = await tls.check(ctx).finally(() => tls.close());
    expect(tlsReport.items[0]).toMatchObject({ name: 'connection', ok: false, message: expect.stringMatching(/does not accept TLS/) });
  });
});

describe('postgres connector on its own cluster', () => {
  let cluster: PgCluster;
  let target: ConnectorInstance;
  beforeAll(async () => {
    cluster = await startPostgres({ name: 'own' });
    const { hostname, port, username, password } = new URL(cluster.adminUrl);
    target = postgresConnector.create(
      postgresConfigSchema.parse({ host: hostname, port: Number(port), user: username, password, connectTimeoutMs: 2000 }),
    );
  });
  afterAll(async () => {
    await target?.close();
    await cluster?.destroy();
  });
  const spec = (username: string, password: string): GrantSpec => ({
    grantId: 'g', account: { username, ownerDisplay: 'Bob' }, entitlements: [],
    notAfter: soon(60_000), accountNotAfter: soon(60_000), reason: 'own cluster', password,
  });

  it('the plaintext password never reaches the server, even with every statement logged', async () => {
    const admin = new pg.Client({ connectionString: cluster.adminUrl });
    await admin.connect();
    await admin.query(`ALTER SYSTEM SET log_statement = 'all'`);
    await admin.query('SELECT pg_reload_conf()');
    await admin.end();
    const password = pw();
    const rotated = pw();
    const { handle } = await target.grant(ctx, spec('logged_jit', password));
    await target.revoke(ctx, revokeSpec(handle, { rotatePassword: rotated }));

    const log = await readFile(cluster.logFile, 'utf8');
    expect(log).toMatch(/ALTER ROLE|CREATE ROLE/);
    expect(log).toContain('SCRAM-SHA-256$4096:');
    expect(log).not.toContain(password);
    expect(log).not.toContain(rotated);
  });

  it('revoke fails as transient while the server is down and succeeds once it is back', async () => {
    const { handle } = await target.grant(ctx, spec('outage_jit', pw()));
    await cluster.stop(); // the pool's idle connection is killed: the process must survive it
    const revoke = revokeSpec(handle);
    const err = await failure(target.revoke(ctx, revoke));
    expect(err).toBeInstanceOf(TargetError);
    expect(err.errorClass).toBe('transient');
    expect(err.message).toMatch(/unreachable \(ECONNREFUSED\)/);

    await cluster.start();
    await target.revoke(ctx, revoke);
    expect((await target.verify(ctx, revoke)).state).toBe('absent');
  });
});
