import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '../../test/harness/pg-database.js';
import { fakeClock } from '../core/clock.js';
import { openStore, type Store } from '../store/db.js';
import { canonicalJson, createAuditLog, GENESIS_HASH, hashRecord, rowToRecord, type ChainedAuditRecord } from './audit-log.js';
import { exportAuditEvents, listAuditEvents } from './audit-query.js';
import { verifyAuditChain } from './audit-verify.js';
import type { AuditInput } from './types.js';

let store: Store;
const clock = fakeClock('2026-03-01T08:00:00.000Z');
const audit = createAuditLog({ clock });
const tenantA = randomUUID();
const tenantB = randomUUID();

beforeAll(async () => {
  store = await openStore({ dataDir: 'memory://' });
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
  await asDba(sql`DELETE FROM audit_events`);
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

describe('audit log append + verify', () => {
  it('builds a valid chain starting from the genesis hash', async () => {
    await resetLog();
    const first = await audit.appendRecord(store.db, event(1));
    await appendMany(9);
    expect(first.seq).toBe('1');
    expect(first.prev_hash).toBe(GENESIS_HASH);
    const result = await verifyAuditChain(store.db, { batchSize: 3 });
    expect(result).toMatchObject({ ok: true, checked: 10, problems: [] });
    expect(result.head?.seq).toBe('10');
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
    // JSON text with 1.50 and keys out of order, as a caller might have it from elsewhere.
    const fromText = JSON.parse('{"price": 1.50, "b": [1.0, 2.50e1], "a": "x"}') as unknown;
    const rec = await audit.appendRecord(store.db, event(1, { before: awkward, after: fromText }));
    await audit.append(store.db, event(2, { before: undefined, after: 'just a string', reason: undefined }));
    await audit.append(store.db, event(3, { tenantId: tenantA.toUpperCase(), before: [1, 'two', { 3: 3 }] }));

    const stored = await store.db.selectFrom('audit_events').selectAll().where('seq', '=', rec.seq).executeTakeFirstOrThrow();
    expect(canonicalJson(stored.before)).toBe(canonicalJson(awkward));
    expect(stored.after).toEqual({ price: 1.5, b: [1, 25], a: 'x' });
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 3 });
  });

  it('opens its own transaction with a plain Kysely and joins the caller transaction otherwise', async () => {
    await resetLog();
    await store.db
      .transaction()
      .execute(async (tx) => {
        await audit.append(tx, event(1));
        throw new Error('business change failed');
      })
      .catch(() => {});
    expect(await countRows()).toBe(0); // rolled back with the caller's change
    await store.db.transaction().execute((tx) => audit.append(tx, event(2)));
    expect(await countRows()).toBe(1);
  });

  it('produces a gapless valid chain from 50 concurrent appenders', async () => {
    await resetLog();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.db.transaction().execute((tx) => audit.append(tx, event(i)))),
    );
    const rows = await store.db.selectFrom('audit_events').select('seq').orderBy('seq').execute();
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await verifyAuditChain(store.db, { batchSize: 7 })).toMatchObject({ ok: true, checked: 50 });
  });
});

describe('on PostgreSQL with several server processes', () => {
  it('serializes appenders from separate connection pools into one gapless chain', async () => {
    const database = await createTestDatabase(inject('pgAdminUrl'));
    // Two stores with their own pools stand for two server processes sharing one database.
    const servers = await Promise.all([1, 2].map(() => openStore({ databaseUrl: database.url, poolSize: 5 })));
    try {
      const log = createAuditLog({ clock: fakeClock() });
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          servers[i % 2]!.db.transaction().execute((tx) => log.append(tx, event(i, { tenantId: null }))),
        ),
      );
      const db = servers[0]!.db;
      const rows = await db.selectFrom('audit_events').select('seq').orderBy('seq').execute();
      expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(await verifyAuditChain(db, { batchSize: 16 })).toMatchObject({ ok: true, checked: 60 });
    } finally {
      await Promise.all(servers.map((s) => s.close()));
      await database.drop();
    }
  });
});

describe('tampering', () => {
  it('blocks UPDATE and DELETE while the append-only trigger is on', async () => {
    await resetLog();
    await appendMany(3);
    await expect(store.db.deleteFrom('audit_events').where('seq', '=', '2').execute()).rejects.toThrow(
      /audit_events is append-only/,
    );
    await expect(
      store.db.updateTable('audit_events').set({ reason: 'nothing happened' }).where('seq', '=', '2').execute(),
    ).rejects.toThrow(/audit_events is append-only/);
    expect(await verifyAuditChain(store.db)).toMatchObject({ ok: true, checked: 3 });
  });

  it('reports a row edited by hand', async () => {
    await resetLog();
    await appendMany(5);
    await asDba(sql`UPDATE audit_events SET reason = 'nothing to see here' WHERE seq = 3`);
    const result = await verifyAuditChain(store.db, { batchSize: 2 });
    expect(result.ok).toBe(false);
    expect(result.checked).toBe(5);
    expect(result.problems).toEqual([{ seq: '3', problem: expect.stringMatching(/does not match its hash: the row was altered/) }]);
  });

  it('reports a row edited and re-hashed at the next row', async () => {
    await resetLog();
    await appendMany(5);
    const row = await store.db.selectFrom('audit_events').selectAll().where('seq', '=', '3').executeTakeFirstOrThrow();
    const forged: ChainedAuditRecord = { ...rowToRecord(row), after: { state: 'denied' } };
    const hash = hashRecord(forged.prev_hash, forged);
    await asDba(sql`UPDATE audit_events SET after = ${JSON.stringify(forged.after)}::jsonb, hash = ${hash} WHERE seq = 3`);
    const result = await verifyAuditChain(store.db);
    expect(result.problems).toEqual([{ seq: '4', problem: expect.stringMatching(/prev_hash does not match the hash of seq 3/) }]);
  });

  it('reports a deleted middle row', async () => {
    await resetLog();
    await appendMany(6);
    await asDba(sql`DELETE FROM audit_events WHERE seq IN (3, 4)`);
    const result = await verifyAuditChain(store.db, { batchSize: 2 });
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.seq)).toEqual(['5', '5']);
    expect(result.problems[0]!.problem).toMatch(/seq 3\.\.4 missing/);
    expect(result.problems[1]!.problem).toMatch(/prev_hash does not match the hash of seq 2/);
  });

  it('reports renumbered rows that hide a deletion, and a deleted first row', async () => {
    await resetLog();
    await appendMany(4);
    await asDba(sql`DELETE FROM audit_events WHERE seq = 2`);
    await asDba(sql`UPDATE audit_events SET seq = seq - 1 WHERE seq > 2`); // close the gap
    let result = await verifyAuditChain(store.db);
    expect(result.problems.map((p) => p.seq)).toEqual(['2', '2', '3']);
    await asDba(sql`DELETE FROM audit_events WHERE seq = 1`);
    result = await verifyAuditChain(store.db);
    expect(result.problems[0]).toEqual({ seq: '2', problem: expect.stringMatching(/seq 1 missing/) });
  });
});

describe('listing and export', () => {
  beforeAll(async () => {
    await resetLog();
    await appendMany(25);
  });

  it('pages newest first with a cursor until the end', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await listAuditEvents(store.db, { limit: 10, cursor });
      seen.push(...page.items.map((e) => e.seq));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => String(25 - i)));
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
    const since = new Date(all.find((e) => e.seq === '10')!.at);
    const until = new Date(all.find((e) => e.seq === '15')!.at);
    const window = await listAuditEvents(store.db, { since, until, limit: 100 });
    expect(window.items.map((e) => e.seq)).toEqual(['14', '13', '12', '11', '10']);
    expect(window.nextCursor).toBeNull();
  });

  it('rejects a malformed cursor or tenant id as a bad request', async () => {
    await expect(listAuditEvents(store.db, { limit: 10, cursor: "1; drop table" })).rejects.toMatchObject({ status: 400 });
    await expect(listAuditEvents(store.db, { limit: 10, tenantId: 'acme' })).rejects.toMatchObject({ status: 400 });
  });

  it('exports JSON lines an auditor can verify offline', async () => {
    const lines: string[] = [];
    const { exported } = await exportAuditEvents(store.db, {}, async (line) => {
      lines.push(line);
    });
    expect(exported).toBe(25);
    const records = lines.map((l) => JSON.parse(l) as ChainedAuditRecord);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 25 }, (_, i) => String(i + 1)));
    let prev = GENESIS_HASH;
    for (const { prev_hash, hash, ...content } of records) {
      expect(prev_hash).toBe(prev);
      expect(hashRecord(prev_hash, content)).toBe(hash);
      prev = hash;
    }
    const filtered: string[] = [];
    await exportAuditEvents(store.db, { tenantId: tenantB, action: 'target.*' }, (l) => void filtered.push(l));
    expect(filtered.map((l) => (JSON.parse(l) as ChainedAuditRecord).tenant_id)).toEqual(Array(13).fill(tenantB));
  });
});

async function countRows() {
  const r = await store.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}
