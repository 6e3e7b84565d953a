/**
 * The audit log against someone with write access to the database, on real PostgreSQL:
 * a history rewritten with every later hash recomputed, and events deleted from the end, are
 * caught by the signed checkpoints kept outside the database; a tenant's export verifies on its
 * own with the offline script; and kill -9 in the middle of a seal loses and doubles nothing.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashRecord } from '../../src/audit/audit-log.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { freePort } from '../harness/postgres.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';
import { signInFirstOwner, type ApiClient } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);
const VERIFIER = 'scripts/verify-audit-export.mjs';

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The offline verifier as an auditor runs it: a separate Node process reading files. */
async function verifyOffline(files: { export: string; publicKey: string; witness?: string; tenant?: string }) {
  const args = [VERIFIER, '--export', files.export, '--public-key', files.publicKey];
  if (files.witness) args.push('--witness', files.witness);
  if (files.tenant) args.push('--tenant', files.tenant);
  try {
    const { stdout } = await run(process.execPath, args, { timeout: 60_000 });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function exportOf(baseUrl: string, token: string, tenant: string, file: string): Promise<string> {
  const res = await fetch(new URL(`/api/v1/tenants/${tenant}/audit/export`, baseUrl), { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  await writeFile(file, await res.text());
  return file;
}

/** What a person with DBA rights can do: switch the guards off, change rows, switch them on. */
async function asDbaOn(dba: pg.Client, statements: (c: pg.Client) => Promise<void>) {
  await dba.query('BEGIN');
  await dba.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update');
  await dba.query('ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_no_update');
  await statements(dba);
  await dba.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update');
  await dba.query('ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_no_update');
  await dba.query('COMMIT');
}

/** Rewrites the reason of `position` and recomputes every later hash with the published recipe. */
async function rewriteFrom(c: pg.Client, rows: Array<Record<string, any>>, position: number) {
  let prev = rows[position - 2]!.hash as string;
  for (const row of rows.slice(position - 1)) {
    const content = { ...row, at: (row.at as Date).toISOString(), position: String(row.chain_pos) } as Parameters<typeof hashRecord>[1];
    if (row.chain_pos === String(position)) content.reason = 'nothing to see here';
    const hash = hashRecord(prev, content);
    await c.query('UPDATE audit_events SET reason = $1, prev_hash = $2, hash = $3 WHERE seq = $4', [content.reason, prev, hash, row.seq]);
    prev = hash;
  }
}

async function addFakeTargets(server: TestServer, tenant: string, n: number) {
  for (let i = 0; i < n; i++) {
    const res = await server.admin.post(`/api/v1/tenants/${tenant}/targets`, {
      name: `t-${randomUUID().slice(0, 8)}`,
      kind: 'fake',
      config: { instance: `audit-${randomUUID()}`, entitlements: ['readers'] },
    });
    expect(res.status).toBe(201);
  }
}

const TAMPER_ALERT = /audit log no longer matches the checkpoint signed at position \d+/;

describe('signed checkpoints against a database administrator', () => {
  let database: TestDatabase;
  let server: TestServer;
  let dba: pg.Client;
  let dir: string;
  let token: string;
  const tenants: Record<string, string> = {};

  const asDba = (statements: (c: pg.Client) => Promise<void>) => asDbaOn(dba, statements);

  const chainRows = async (tenantId: string) =>
    (await dba.query(`SELECT * FROM audit_events WHERE tenant_id = $1 AND chain_pos IS NOT NULL ORDER BY chain_pos`, [tenantId])).rows;

  const addTargets = (tenant: string, n: number) => addFakeTargets(server, tenant, n);

  const platformVerify = async () => (await server.admin.post('/api/v1/audit/verify')).body;

  beforeAll(async () => {
    database = await createTestDatabase(inject('pgAdminUrl'));
    server = await startTestServer({ databaseUrl: database.url, env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true' } });
    dba = new pg.Client({ connectionString: database.url });
    await dba.connect();
    dir = await mkdtemp(join(tmpdir(), 'timebox-audit-'));
    const login = await server.admin.post<{ token: string }>('/api/v1/auth/login', {
      email: server.tb.bootstrap!.email,
      password: server.tb.bootstrap!.password,
    });
    token = login.body.token;
    for (const slug of ['alpha', 'beta']) expect((await server.admin.post('/api/v1/tenants', { slug, name: slug })).status).toBe(201);
    for (const r of (await dba.query<{ id: string; slug: string }>('SELECT id, slug FROM tenants')).rows) tenants[r.slug] = r.id;
    await addTargets('default', 3);
    await addTargets('alpha', 8);
    await addTargets('beta', 8);
    await server.tb.audit.sealer.sealNow({ checkpoint: true });
    const key = (await server.admin.get<{ publicKeyPem: string }>('/api/v1/audit/public-key')).body;
    await writeFile(join(dir, 'audit.pub'), key.publicKeyPem);
  });
  afterAll(async () => {
    await dba?.end();
    await server?.close();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const witnessFile = () => join(server.tb.audit.trust.witnesses[0]!.name.replace(/^file /, ''));

  it("(c) a tenant's export verifies on its own with the offline script", async () => {
    expect(await platformVerify()).toMatchObject({ ok: true, unsealed: 0, problems: [] });
    const file = await exportOf(server.url, token, 'alpha', join(dir, 'alpha.jsonl'));
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => l.checkpoint ? (l.checkpoint as { tenant_id: string }).tenant_id === tenants.alpha : l.tenant_id === tenants.alpha)).toBe(true);
    const positions = lines.filter((l) => !l.checkpoint).map((l) => Number(l.position)).sort((a, b) => a - b);
    expect(positions).toEqual(Array.from({ length: positions.length }, (_, i) => i + 1));

    const alone = await verifyOffline({ export: file, publicKey: join(dir, 'audit.pub') });
    expect(alone.stdout).toContain(`tenant ${tenants.alpha}: ${positions.length} events, head position ${positions.length}, signed up to position ${positions.length}`);
    expect(alone.stdout).toContain('Audit export intact');
    expect(alone.code).toBe(0);
    const withWitness = await verifyOffline({ export: file, publicKey: join(dir, 'audit.pub'), witness: witnessFile() });
    expect(withWitness.code).toBe(0);

    // An export that is not the one signed: one field changed in the file.
    await writeFile(join(dir, 'alpha-edited.jsonl'), (await readFile(file, 'utf8')).replace(/"action":"target.created"/, '"action":"target.viewed"'));
    const edited = await verifyOffline({ export: join(dir, 'alpha-edited.jsonl'), publicKey: join(dir, 'audit.pub') });
    expect(edited.code).toBe(1);
    expect(edited.stdout).toMatch(/content does not match its hash/);
  });

  it('(a) an edited event with every later hash recomputed fails against the checkpoints', async () => {
    const rows = await chainRows(tenants.alpha!);
    const signedPos = rows.length;
    // Rewrite position 3 and recompute every later hash with the published recipe, then remove
    // the database's copies of the checkpoints as well.
    await asDba(async (c) => {
      await rewriteFrom(c, rows, 3);
      await c.query('DELETE FROM audit_checkpoints');
    });

    const report = await platformVerify();
    expect(report.ok).toBe(false);
    // The chain is consistent in itself: only the signed checkpoint from the witness tells.
    expect(report.problems).toEqual([
      { tenant_id: tenants.alpha, tenant_slug: 'alpha', position: String(signedPos), problem: expect.stringMatching(/differs from the checkpoint signed at .*: history was rewritten/) },
    ]);
    const tenantReport = (await server.admin.post('/api/v1/tenants/alpha/audit/verify')).body;
    expect(tenantReport).toMatchObject({ ok: false, problems: [{ position: String(signedPos) }] });

    const file = await exportOf(server.url, token, 'alpha', join(dir, 'alpha-rewritten.jsonl'));
    const offline = await verifyOffline({ export: file, publicKey: join(dir, 'audit.pub'), witness: witnessFile() });
    expect(offline.code).toBe(1);
    expect(offline.stdout).toMatch(/history was rewritten/);

    // The sealer does not sign over the rewritten history either, and tells the tenant's admins.
    // It looks when the chain moves: a new event, sealed once no older transaction is still open
    // anywhere in the cluster (other test files' transactions can hold that back for a while).
    const before = (await readFile(witnessFile(), 'utf8')).split('\n').length;
    await addTargets('alpha', 1);
    await until('the tamper alert', async () => {
      await server.tb.audit.sealer.sealNow({ checkpoint: true });
      const alerts = (await server.admin.get('/api/v1/tenants/alpha/alerts')).body.items as Array<{ severity: string; message: string }>;
      return alerts.some((a) => a.severity === 'critical' && TAMPER_ALERT.test(a.message));
    });
    const added = (await readFile(witnessFile(), 'utf8')).split('\n').slice(before - 1).filter(Boolean).map((l) => JSON.parse(l));
    expect(added.filter((c: { tenant_id: string }) => c.tenant_id === tenants.alpha)).toEqual([]);
  });

  it('(b) events deleted after a checkpoint are caught', async () => {
    await addTargets('beta', 2);
    await server.tb.audit.sealer.sealNow({ checkpoint: true });
    const rows = await chainRows(tenants.beta!);
    const head = rows.length;
    await asDba(async (c) => {
      await c.query('DELETE FROM audit_events WHERE tenant_id = $1 AND chain_pos > $2', [tenants.beta, head - 3]);
      await c.query('DELETE FROM audit_checkpoints WHERE tenant_id = $1', [tenants.beta]);
    });
    const report = (await server.admin.post('/api/v1/tenants/beta/audit/verify')).body;
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual({
      tenant_id: tenants.beta,
      tenant_slug: 'beta',
      position: String(head),
      problem: expect.stringMatching(new RegExp(`the chain ends at position ${head - 3} but position ${head} was signed at .*: events were deleted`)),
    });
    const file = await exportOf(server.url, token, 'beta', join(dir, 'beta.jsonl'));
    const offline = await verifyOffline({ export: file, publicKey: join(dir, 'audit.pub'), witness: witnessFile() });
    expect(offline.code).toBe(1);
    expect(offline.stdout).toMatch(/events were deleted/);
  });

  it('(f) the offline script trusts only what a trusted key signed, and refuses what is not an export', async () => {
    await addTargets('default', 2);
    await server.tb.audit.sealer.sealNow({ checkpoint: true });
    const file = await exportOf(server.url, token, 'default', join(dir, 'default.jsonl'));
    const text = await readFile(file, 'utf8');
    const pub = join(dir, 'audit.pub');
    const witness = witnessFile();
    const check = async (name: string, content: string, withWitness: boolean) => {
      await writeFile(join(dir, name), content);
      return verifyOffline({ export: join(dir, name), publicKey: pub, ...(withWitness ? { witness } : {}) });
    };
    // Untouched, and with the byte-order mark an editor may add.
    expect((await check('bom.jsonl', `\uFEFF${text}`, true)).code).toBe(0);
    // Intact, but not the tenant the auditor asked for.
    expect((await verifyOffline({ export: file, publicKey: pub, witness, tenant: tenants.default })).code).toBe(0);
    const wrongTenant = await verifyOffline({ export: file, publicKey: pub, witness, tenant: tenants.alpha });
    expect(wrongTenant.code).toBe(1);
    expect(wrongTenant.stdout).toContain(`events of tenant ${tenants.default} in an export expected to hold tenant ${tenants.alpha}'s alone`);

    const lines = text.trim().split('\n');
    const events = lines.filter((l) => !l.startsWith('{"checkpoint":'));
    const first = JSON.parse(events[0]!) as { tenant_id: string; hash: string; at: string };
    // The tail cut, the checkpoints dropped, and one unsigned line naming another log: the log id
    // comes only from signed checkpoints, so the witness still shows the cut.
    const forged = JSON.stringify({ checkpoint: { log_id: randomUUID(), tenant_id: first.tenant_id, position: '1', hash: first.hash, at: first.at, key_id: 'ffffffffffffffff', signature: 'AAAA' } });
    const cut = await check('cut.jsonl', [...events.slice(0, 2), forged].join('\n') + '\n', true);
    expect(cut.code).toBe(1);
    expect(cut.stdout).toMatch(/but position \d+ was signed at .*: events were deleted/);
    // Without the witness nothing signed covers it: not "intact".
    const bare = await check('bare.jsonl', events.join('\n') + '\n', false);
    expect(bare.code).toBe(1);
    expect(bare.stdout).toContain('no checkpoint signed by a trusted key covers this chain');
    expect(bare.stdout).not.toContain('Audit export intact');

    const refused: Array<[string, string, RegExp]> = [
      ['empty.jsonl', '', /the export holds no audit events/],
      ['number.jsonl', `5\n${text}`, /export line 1 is neither an audit event nor a checkpoint/],
      ['null.jsonl', `null\n${text}`, /export line 1 is neither an audit event nor a checkpoint/],
      ['array.jsonl', `[1,2]\n${text}`, /export line 1 is neither an audit event nor a checkpoint/],
      ['position.jsonl', text.replace(/"position":"1"/, '"position":"abc"'), /position is not a whole number/],
      ['bad-checkpoint.jsonl', `${text}{"checkpoint":[]}\n`, /the checkpoint is not an object/],
    ];
    for (const [name, content, message] of refused) {
      const r = await check(name, content, true);
      expect(r.code, name).toBe(1);
      expect(r.stdout, name).toMatch(message);
      expect(r.stdout, name).not.toMatch(/TypeError|SyntaxError|RangeError|    at /);
    }
  });

  it('(g) a log id changed in the database does not hide a chain cut short', async () => {
    await addTargets('default', 3);
    await server.tb.audit.sealer.sealNow({ checkpoint: true });
    const rows = await chainRows(tenants.default!);
    await asDba(async (c) => {
      await c.query('DELETE FROM audit_events WHERE tenant_id = $1 AND chain_pos > $2', [tenants.default, rows.length - 3]);
      await c.query('DELETE FROM audit_checkpoints');
      await c.query(`UPDATE settings SET value = $1::jsonb WHERE key = 'audit.log_id'`, [JSON.stringify(randomUUID())]);
    });
    const report = (await server.admin.post('/api/v1/tenants/default/audit/verify')).body;
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual({
      tenant_id: tenants.default,
      tenant_slug: 'default',
      position: null,
      problem: expect.stringMatching(/holds checkpoints of this chain signed by a trusted key for audit log [0-9a-f-]{36}, but the database names its log [0-9a-f-]{36}: the log id was changed or the database replaced/),
    });
    expect((await platformVerify()).ok).toBe(false);
  });
});

describe('a quiet tenant, checked again without a new event', () => {
  let database: TestDatabase;
  let server: TestServer;
  let dba: pg.Client;
  const ids: Record<string, string> = {};
  const openAlerts = async (tenant: string) =>
    ((await server.admin.get(`/api/v1/tenants/${tenant}/alerts`)).body.items as Array<{ severity: string; message: string }>).filter(
      (a) => a.severity === 'critical' && TAMPER_ALERT.test(a.message),
    );
  const sealedRows = async (tenant: string) =>
    (await dba.query(`SELECT * FROM audit_events WHERE tenant_id = $1 AND chain_pos IS NOT NULL ORDER BY chain_pos`, [ids[tenant]])).rows;

  beforeAll(async () => {
    database = await createTestDatabase(inject('pgAdminUrl'));
    // Every chain checked each second (default: 10 minutes).
    server = await startTestServer({ databaseUrl: database.url, env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true', TIMEBOX_AUDIT_RECHECK_MS: '1000' } });
    dba = new pg.Client({ connectionString: database.url });
    await dba.connect();
    for (const slug of ['quiet', 'gone', 'calm']) {
      expect((await server.admin.post('/api/v1/tenants', { slug, name: slug })).status).toBe(201);
      await addFakeTargets(server, slug, 4);
    }
    for (const r of (await dba.query<{ id: string; slug: string }>('SELECT id, slug FROM tenants')).rows) ids[r.slug] = r.id;
    await server.tb.audit.sealer.sealNow({ checkpoint: true });
  });
  afterAll(async () => {
    await dba?.end();
    await server?.close();
    await database?.drop();
  });

  it('a history rewritten with every hash recomputed, and a chain deleted whole, raise the alert with nothing new written', async () => {
    const quiet = await sealedRows('quiet');
    const gone = await sealedRows('gone');
    expect(quiet.length).toBeGreaterThan(3);
    await asDbaOn(dba, async (c) => {
      await rewriteFrom(c, quiet, 2);
      await c.query('DELETE FROM audit_events WHERE tenant_id = $1', [ids.gone]);
      await c.query('DELETE FROM audit_checkpoints WHERE tenant_id = ANY($1)', [[ids.quiet, ids.gone]]);
    });
    const events = async () => Number((await dba.query('SELECT count(*) AS n FROM audit_events')).rows[0].n);
    const written = await events();
    // Nobody seals on demand here: the server's own sealer finds both on its next check.
    await until('the tamper alerts', async () => ((await openAlerts('quiet')).length > 0 && (await openAlerts('gone')).length > 0 ? true : null), 30_000);
    expect(gone.length).toBeGreaterThan(0);
    // The tenant nobody touched is not accused, and the alerts came without a new event in the
    // chains checked (reading alerts writes none).
    expect(await openAlerts('calm')).toEqual([]);
    expect(await events()).toBe(written);
  });
});

describe('kill -9 during sealing', () => {
  let database: TestDatabase;
  let child: ChildServer | null = null;
  let dataDir: string;
  let db: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase(inject('pgAdminUrl'));
    dataDir = await mkdtemp(join(tmpdir(), 'timebox-audit-crash-'));
    db = new pg.Pool({ connectionString: database.url, max: 4 });
  });
  afterAll(async () => {
    await child?.stop();
    await db?.end();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('loses nothing, seals nothing twice, and the chain verifies after restart', async () => {
    const env = {
      DATABASE_URL: database.url,
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      TIMEBOX_DATA_DIR: dataDir,
      TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
      TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true',
      TIMEBOX_AUDIT_SEAL_MS: '50',
    };
    child = await startChildServer(env);
    const admin: ApiClient = await signInFirstOwner(child.url, child.bootstrap!);
    const unsealed = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events WHERE hash IS NULL')).rows[0]!.n;
    await until('the first events to be sealed', async () => (await unsealed()) === 0);

    // Hold the sealer's horizon with an open transaction, so the next events stay unsealed...
    const horizon = await db.connect();
    const rowLock = await db.connect();
    await horizon.query('BEGIN');
    await horizon.query('SELECT pg_current_xact_id()');
    for (let i = 0; i < 5; i++) {
      const res = await admin.post('/api/v1/tenants/default/targets', {
        name: `crash-${i}`,
        kind: 'fake',
        config: { instance: `crash-${randomUUID()}`, entitlements: ['readers'] },
      });
      expect(res.status).toBe(201);
    }
    // ...lock them, so the sealer's UPDATE will wait in the middle of its batch transaction...
    await rowLock.query('BEGIN');
    const locked = await rowLock.query('SELECT seq FROM audit_events WHERE hash IS NULL FOR SHARE');
    expect(locked.rowCount).toBeGreaterThanOrEqual(5);
    await horizon.query('COMMIT');
    horizon.release();
    await until('the sealer to be waiting inside its batch', async () => {
      const r = await db.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE audit_events AS e SET chain_pos%'`);
      return r.rowCount === 1;
    });
    // ...and kill the server right there.
    await child.kill9();
    child = null;
    await rowLock.query('ROLLBACK');
    rowLock.release();

    const before = (await db.query<{ id: string }>('SELECT id FROM audit_events')).rows.map((r) => r.id);
    expect(await unsealed()).toBeGreaterThanOrEqual(5); // the killed batch sealed nothing

    child = await startChildServer(env);
    await until('every event to be sealed after the restart', async () => (await unsealed()) === 0);
    const after = await db.query<{ id: string; chain: string; pos: string }>(
      `SELECT id, coalesce(tenant_id::text, 'platform') AS chain, chain_pos::text AS pos FROM audit_events ORDER BY 2, chain_pos`,
    );
    const ids = new Set(after.rows.map((r) => r.id));
    expect(before.filter((id) => !ids.has(id))).toEqual([]); // nothing lost
    const byChain = new Map<string, number[]>();
    for (const r of after.rows) byChain.set(r.chain, [...(byChain.get(r.chain) ?? []), Number(r.pos)]);
    for (const positions of byChain.values()) expect(positions).toEqual(positions.map((_, i) => i + 1)); // once each, no gaps

    // The session survives the restart; the restarted sealer signs every chain head it found (its
    // checkpoint follows the seal in a step of its own: waited for, not assumed).
    const report = await until('a checkpoint for every chain', async () => {
      const r = (await admin.post('/api/v1/audit/verify')).body;
      return r.chains.every((c: { checkpoint: unknown }) => c.checkpoint !== null) ? r : null;
    });
    expect(report).toMatchObject({ ok: true, unsealed: 0, problems: [] });
  }, 240_000);
});
