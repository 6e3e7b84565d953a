import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '../../test/harness/pg-database.js';
import { fakeClock } from '../core/clock.js';
import { openStore, type Store } from '../store/db.js';
import { openTestStore } from '../../test/harness/pglite-template.js';
import { canonicalJson, createAuditLog, GENESIS_HASH, hashRecord, type ChainedAuditRecord } from './audit-log.js';
import { exportAuditEvents, listAuditEvents } from './audit-query.js';
import { createAuditSealer } from './audit-sealer.js';
import { verifyAuditLog, type AuditTrust } from './audit-verify.js';
import { keyIdOf, type SignedCheckpoint } from './checkpoints.js';
import type { AuditInput } from './types.js';
import type { AuditWitness } from './witness.js';

let store: Store;
const clock = fakeClock('2026-03-01T08:00:00.000Z');
const audit = createAuditLog({ clock });
const tenantA = randomUUID();
const tenantB = randomUUID();
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer = { privateKey, keyId: keyIdOf(publicKey) };
const witnessed: SignedCheckpoint[] = [];
const witness: AuditWitness = {
  name: 'memory',
  async record(cps) {
    witnessed.push(...cps);
  },
  async read() {
    return { checkpoints: [...witnessed], unreadable: 0 };
  },
};
const trust: AuditTrust = { trustedKeys: new Map([[signer.keyId, publicKey]]), witnesses: [witness] };
const log = pino({ level: 'silent' });
const sealerFor = (s: Store, batchSize = 500) => createAuditSealer({ db: s.db, clock, log, workerId: 'test', signer, witnesses: [witness], batchSize });
const seal = (batchSize?: number) => sealerFor(store, batchSize).sealNow({ checkpoint: true });

beforeAll(async () => {
  store = await openTestStore();
  await store.db.insertInto('tenants').values([
    { id: tenantA, slug: 'a', name: 'A', created_at: clock.now() },
    { id: tenantB, slug: 'b', name: 'B', created_at: clock.now() },
  ]).execute();
});
afterAll(async () => {
  await store?.close();
});

/** Each test starts from an empty log; clearing it needs the same DBA rights as tampering. */
async function resetLog() {
  witnessed.length = 0;
  await asDba(sql`DELETE FROM audit_events`);
  await sql`ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_no_update`.execute(store.db);
  await sql`DELETE FROM audit_checkpoints`.execute(store.db);
  await sql`ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_no_update`.execute(store.db);
}

async function asDba(statement: ReturnType<typeof sql>) {
  await store.db.transaction().execute(async (tx) => {
    await sql`ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update`.execute(tx);
    await statement.execute(tx);
    await sql`ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update`.execute(tx);
  });
}

function event(i: number, over: Partial<AuditInput> = {}): AuditInput {
  return {
    tenantId: i % 2 === 0 ? tenantA : tenantB,
    actor: { type: 'operator', id: `op-${i % 3}` },
    action: i % 4 === 0 ? 'grant.activated' : 'target.created',
    subject: { type: 'grant', id: `subject-${i}` },
    reason: `change ${i}`,
    before: { state: 'approved', n: i },
    after: { state: 'active', n: i },
    ...over,
  };
}

async function appendMany(n: number) {
  for (let i = 1; i <= n; i++) {
    clock.advance(1000);
    await audit.append(store.db, event(i));
  }
}

const chainOfA = async () =>
  store.db.selectFrom('audit_events').selectAll().where('tenant_id', '=', tenantA).orderBy('chain_pos').execute();

describe('audit log append + seal + verify', () => {
  it('writes unsealed events, then seals one gapless chain per tenant from the genesis hash', async () => {
    await resetLog();
    const first = await audit.appendRecord(store.db, event(2));
    expect(first).toMatchObject({ position: null, hash: null, sealed: false });
    await appendMany(9);
    await audit.append(store.db, event(11, { tenantId: null }));
    expect(await seal(3)).toMatchObject({ sealed: 11, checkpoints: 3 });
    const a = await chainOfA();
    expect(a.map((r) => String(r.chain_pos))).toEqual(['1', '2', '3', '4', '5']);
    expect(a[0]!.prev_hash).toBe(GENESIS_HASH);
    const result = await verifyAuditLog(store.db, trust, { batchSize: 3 });
    expect(result).toMatchObject({ ok: true, checked: 11, unsealed: 0, problems: [], checkpoints: { trusted: 3 } });
    expect(result.chains.map((c) => [c.tenant_id, c.events]).sort()).toEqual([[null, 1], [tenantA, 5], [tenantB, 5]].sort());
    expect(await verifyAuditLog(store.db, trust, { tenantId: tenantB })).toMatchObject({ ok: true, checked: 5 });
  });

  it('still verifies after jsonb reorders keys and reformats numbers and unicode', async () => {
    await resetLog();
    const awkward = {
      zeta: [3, { b: 1.5, a: 1.0, c: -0 }, [], {}],
      alpha: { 'ключ': 'значение ✓ 🚀', é: 'e\u0301', nested: { y: 1e21, x: 0.1 + 0.2, w: 12345678901234567890 } },
      long_key_name: null,
      s: 'tab\tnew\nline "quoted" \\ back',
      when: new Date('2026-01-02T03:04:05.678Z'),
      dropped: undefined,
    };
    const fromText = JSON.parse('{"price": 1.50, "b": [1.0, 2.50e1], "a": "x"}') as unknown;
    const rec = await audit.appendRecord(store.db, event(1, { before: awkward, after: fromText }));
    await audit.append(store.db, event(2, { before: undefined, after: 'just a string', reason: undefined }));
    await audit.append(store.db, event(3, { tenantId: tenantA.toUpperCase(), before: [1, 'two', { 3: 3 }] }));
    await seal();
    const stored = await store.db.selectFrom('audit_events').selectAll().where('seq', '=', rec.seq).executeTakeFirstOrThrow();
    expect(canonicalJson(stored.before)).toBe(canonicalJson(awkward));
    expect(stored.after).toEqual({ price: 1.5, b: [1, 25], a: 'x' });
    expect(await verifyAuditLog(store.db, trust)).toMatchObject({ ok: true, checked: 3 });
  });

  it('joins the caller transaction: rolled back with it', async () => {
    await resetLog();
    await store.db
      .transaction()
      .execute(async (tx) => {
        await audit.append(tx, event(1));
        throw new Error('business change failed');
      })
      .catch(() => {});
    expect(await countRows()).toBe(0);
    await store.db.transaction().execute((tx) => audit.append(tx, event(2)));
    expect(await countRows()).toBe(1);
  });

  it('writes the events of one change with one statement, in the order given, rolled back with it', async () => {
    await resetLog();
    await store.db
      .transaction()
      .execute(async (tx) => {
        await audit.appendMany(tx, [event(1), event(2)]);
        throw new Error('business change failed');
      })
      .catch(() => {});
    expect(await countRows()).toBe(0);
    await store.db.transaction().execute((tx) => audit.appendMany(tx, [event(2, { action: 'grant.revoking' }), event(4, { action: 'grant.revoked' }), event(3)]));
    await audit.appendMany(store.db, []);
    const rows = await store.db.selectFrom('audit_events').select(['action', 'reason']).orderBy('seq').execute();
    expect(rows).toEqual([
      { action: 'grant.revoking', reason: 'change 2' },
      { action: 'grant.revoked', reason: 'change 4' },
      { action: 'target.created', reason: 'change 3' },
    ]);
    await seal();
    // Same tenant, same order in its chain as in the statement.
    expect((await chainOfA()).map((r) => r.action)).toEqual(['grant.revoking', 'grant.revoked']);
    expect(await verifyAuditLog(store.db, trust)).toMatchObject({ ok: true, checked: 3 });
  });

  it('seals 50 concurrent appenders into gapless chains, each event once', async () => {
    await resetLog();
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.db.transaction().execute((tx) => audit.append(tx, event(i)))));
    await seal(7);
    expect((await chainOfA()).map((r) => Number(r.chain_pos))).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(await seal()).toMatchObject({ sealed: 0 });
    expect(await verifyAuditLog(store.db, trust, { batchSize: 7 })).toMatchObject({ ok: true, checked: 50 });
  });
});

describe('on PostgreSQL with several server processes', () => {
  /**
   * The oldest running transaction is cluster-wide: another test's database on the same server can
   * hold sealing back for a moment, so seal until `want` events are sealed (or fail at 20 s).
   */
  async function sealUntil(sealer: ReturnType<typeof sealerFor>, want: number) {
    let sealed = 0;
    const deadline = Date.now() + 20_000;
    while (sealed < want && Date.now() < deadline) {
      sealed += (await sealer.sealNow({ checkpoint: true })).sealed;
      if (sealed < want) await new Promise((r) => setTimeout(r, 50));
    }
    return sealed;
  }

  it('never seals past a transaction still running, so a late commit is sealed after, not before', async () => {
    const database = await createTestDatabase(inject('pgAdminUrl'));
    // Another deployment (its own database and log): the witness starts empty for it. A witness
    // holding this key's checkpoints of another log would be reported, and rightly.
    witnessed.length = 0;
    // Two stores with their own pools stand for two server processes sharing one database.
    const servers = await Promise.all([1, 2].map(() => openStore({ databaseUrl: database.url, poolSize: 5 })));
    try {
      const db = servers[0]!.db;
      const log1 = createAuditLog({ clock: fakeClock() });
      await Promise.all(
        Array.from({ length: 60 }, (_, i) => servers[i % 2]!.db.transaction().execute((tx) => log1.append(tx, event(i, { tenantId: null })))),
      );
      const sealer = sealerFor(servers[1]!);
      expect(await sealUntil(sealer, 60)).toBe(60);

      // A transaction that wrote an event and is still open holds back everything written after it.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let wrote!: () => void;
      const written = new Promise<void>((r) => (wrote = r));
      const late = db.transaction().execute(async (tx) => {
        await log1.append(tx, event(100, { tenantId: null, reason: 'late' }));
        wrote();
        await held;
      });
      await written;
      await log1.append(db, event(101, { tenantId: null, reason: 'early' }));
      expect(await sealer.sealNow()).toMatchObject({ sealed: 0 });
      release();
      await late;
      expect(await sealUntil(sealer, 2)).toBe(2);
      const tail = await db.selectFrom('audit_events').select(['reason', 'chain_pos']).where('chain_pos', '>', '60').orderBy('chain_pos').execute();
      expect(tail).toEqual([{ reason: 'late', chain_pos: '61' }, { reason: 'early', chain_pos: '62' }]);
      const result = await verifyAuditLog(db, trust, { batchSize: 16 });
      expect(result).toMatchObject({ ok: true, checked: 62 });
    } finally {
      await Promise.all(servers.map((s) => s.close()));
      await database.drop();
    }
  });
});

describe('tampering', () => {
  it('blocks UPDATE and DELETE, and a second seal of a sealed event', async () => {
    await resetLog();
    await appendMany(3);
    const [row] = await store.db.selectFrom('audit_events').select('seq').orderBy('seq').limit(1).execute();
    await expect(store.db.deleteFrom('audit_events').where('seq', '=', row!.seq).execute()).rejects.toThrow(/audit_events is append-only/);
    await expect(store.db.updateTable('audit_events').set({ reason: 'nothing happened' } as never).where('seq', '=', row!.seq).execute()).rejects.toThrow(
      /audit_events is append-only/,
    );
    await seal();
    await expect(sql`UPDATE audit_events SET hash = repeat('a', 64) WHERE seq = ${row!.seq}`.execute(store.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_checkpoints`.execute(store.db)).rejects.toThrow(/audit_checkpoints is append-only/);
    expect(await verifyAuditLog(store.db, trust)).toMatchObject({ ok: true, checked: 3 });
  });

  it('reports an event edited by hand', async () => {
    await resetLog();
    await appendMany(10);
    await seal();
    await asDba(sql`UPDATE audit_events SET reason = 'nothing to see here' WHERE tenant_id = ${tenantA} AND chain_pos = 3`);
    const result = await verifyAuditLog(store.db, trust, { batchSize: 2 });
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual({ tenant_id: tenantA, position: '3', problem: expect.stringMatching(/does not match its hash/) });
  });

  it('reports an event edited and re-hashed, at the next event', async () => {
    await resetLog();
    await appendMany(10);
    await seal();
    const [row] = (await chainOfA()).filter((r) => r.chain_pos === '3');
    const forged = { ...row!, position: '3', at: row!.at.toISOString(), after: { state: 'denied' } };
    const hash = hashRecord(row!.prev_hash!, forged);
    await asDba(sql`UPDATE audit_events SET after = ${JSON.stringify(forged.after)}::jsonb, hash = ${hash} WHERE seq = ${row!.seq}`);
    const result = await verifyAuditLog(store.db, trust);
    expect(result.problems).toContainEqual({ tenant_id: tenantA, position: '4', problem: expect.stringMatching(/prev_hash does not match the hash of position 3/) });
  });

  it('reports deleted middle events', async () => {
    await resetLog();
    await appendMany(12);
    await seal();
    await asDba(sql`DELETE FROM audit_events WHERE tenant_id = ${tenantA} AND chain_pos IN (3, 4)`);
    const result = await verifyAuditLog(store.db, trust, { batchSize: 2 });
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => [p.position, p.problem.slice(0, 14)])).toEqual([
      ['5', 'position 3..4 '],
      ['5', 'prev_hash does'],
    ]);
  });

  it("a log id changed in the database: verify says so, and the next sealer to start alerts the tenant's admins", async () => {
    await resetLog();
    await appendMany(6);
    await seal();
    const before = (await store.db.selectFrom('settings').select('value').where('key', '=', 'audit.log_id').executeTakeFirstOrThrow()).value;
    const alertsOf = () => store.db.selectFrom('alerts').select(['message', 'severity']).where('tenant_id', '=', tenantA).where('resolved_at', 'is', null).execute();
    try {
      await sql`UPDATE settings SET value = ${JSON.stringify(randomUUID())}::jsonb WHERE key = 'audit.log_id'`.execute(store.db);
      const result = await verifyAuditLog(store.db, trust);
      expect(result.ok).toBe(false);
      expect(result.problems).toContainEqual({ tenant_id: tenantA, position: null, problem: expect.stringMatching(/holds checkpoints of this chain signed by a trusted key for audit log [0-9a-f-]{36}, but the database names its log /) });
      // A server started on the altered database (a new sealer) finds the witness disagreeing.
      await audit.append(store.db, event(2));
      await sealerFor(store).sealNow({ checkpoint: true });
      expect(await alertsOf()).toContainEqual({ severity: 'critical', message: expect.stringMatching(/^The audit witness holds checkpoints of this tenant signed with this server's key for another audit log/) });
    } finally {
      await sql`UPDATE settings SET value = ${JSON.stringify(before)}::jsonb WHERE key = 'audit.log_id'`.execute(store.db);
      await sql`DELETE FROM alerts WHERE tenant_id = ${tenantA}`.execute(store.db);
    }
  });
});

describe('listing and export', () => {
  beforeAll(async () => {
    await resetLog();
    await appendMany(24);
    await seal();
    await appendMany(1); // one not sealed yet
  });

  it('pages newest first by insertion id, unsealed events included and marked', async () => {
    const seen: ChainedAuditRecord[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await listAuditEvents(store.db, { limit: 10, cursor });
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    const seqs = seen.map((e) => BigInt(e.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? 1 : -1)));
    expect(seen[0]).toMatchObject({ sealed: false, position: null, hash: null });
    expect(seen.slice(1).every((e) => e.sealed && e.position !== null)).toBe(true);
  });

  it('filters by tenant, action (exact or prefix), actor, subject and time', async () => {
    const byTenant = await listAuditEvents(store.db, { tenantId: tenantA, limit: 100 });
    expect(byTenant.items).toHaveLength(12);
    expect(byTenant.items.every((e) => e.tenant_id === tenantA)).toBe(true);
    const paged = await listAuditEvents(store.db, { tenantId: tenantA, limit: 5 });
    const next = await listAuditEvents(store.db, { tenantId: tenantA, limit: 5, cursor: paged.nextCursor });
    expect(next.items.map((e) => e.seq)).toEqual(byTenant.items.slice(5, 10).map((e) => e.seq));
    expect((await listAuditEvents(store.db, { action: 'grant.activated', limit: 100 })).items).toHaveLength(6);
    expect((await listAuditEvents(store.db, { action: 'grant.*', limit: 100 })).items).toHaveLength(6);
    expect((await listAuditEvents(store.db, { action: 'grant%', limit: 100 })).items).toHaveLength(0);
    expect((await listAuditEvents(store.db, { actorId: 'op-0', limit: 100 })).items).toHaveLength(8);
    const one = await listAuditEvents(store.db, { subjectId: 'subject-7', limit: 100 });
    expect(one.items.map((e) => e.reason)).toEqual(['change 7']);
    const all = (await listAuditEvents(store.db, { limit: 100 })).items;
    const since = new Date(all.find((e) => e.reason === 'change 10')!.at);
    const until = new Date(all.find((e) => e.reason === 'change 15')!.at);
    const window = await listAuditEvents(store.db, { since, until, limit: 100 });
    expect(window.items.map((e) => e.reason)).toEqual(['change 14', 'change 13', 'change 12', 'change 11', 'change 10']);
    expect(window.nextCursor).toBeNull();
  });

  it('rejects a malformed cursor or tenant id as a bad request', async () => {
    await expect(listAuditEvents(store.db, { limit: 10, cursor: '1; drop table' })).rejects.toMatchObject({ status: 400 });
    await expect(listAuditEvents(store.db, { limit: 10, tenantId: 'acme' })).rejects.toMatchObject({ status: 400 });
    await expect(exportAuditEvents(store.db, { tenantId: 'acme' }, () => {})).rejects.toMatchObject({ status: 400 });
  });

  it("exports a tenant's chain with its checkpoints, which link up on their own", async () => {
    const lines: string[] = [];
    const { exported, checkpoints } = await exportAuditEvents(store.db, { tenantId: tenantB }, (l) => void lines.push(l));
    expect([exported, checkpoints]).toEqual([13, 1]);
    const parsed = lines.map((l) => JSON.parse(l) as ChainedAuditRecord & { checkpoint?: SignedCheckpoint });
    const events = parsed.filter((p) => !p.checkpoint && p.sealed).sort((a, b) => Number(a.position) - Number(b.position));
    expect(parsed.filter((p) => !p.checkpoint && !p.sealed)).toHaveLength(1);
    let prev = GENESIS_HASH;
    for (const e of events) {
      expect(e.prev_hash).toBe(prev);
      expect(hashRecord(prev, { ...e, position: e.position! })).toBe(e.hash);
      prev = e.hash!;
    }
    expect(parsed.at(-1)!.checkpoint).toMatchObject({ tenant_id: tenantB, position: '12', hash: prev });
  });
});

async function countRows() {
  const r = await store.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}
