/**
 * The store sends each parameterised query as a named prepared statement (parsed and planned once
 * per connection). What a user would notice if this went wrong: a query answering with an old
 * shape, or failing, after another replica migrated the schema underneath a running server.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/db.js';
import { startPostgres, type PgCluster } from '../harness/postgres.js';

let cluster: PgCluster;
let databaseUrl = '';
let store: Store;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'prepared-statements' });
  databaseUrl = await cluster.createDatabase('timebox');
  // One connection, so the session seen by pg_prepared_statements is the one that ran the queries.
  store = await openStore({ databaseUrl, poolSize: 1 });
  await sql`CREATE TABLE shapes (id int PRIMARY KEY, a text)`.execute(store.db);
  await sql`INSERT INTO shapes VALUES (1, 'one'), (2, 'two')`.execute(store.db);
}, 120_000);

afterAll(async () => {
  await store?.close();
  await cluster?.destroy();
});

/** Another server (a newer replica) changes the table while this one keeps its connection. */
async function elsewhere(statement: string) {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

const row = (id: number) => sql<Record<string, unknown>>`SELECT * FROM shapes WHERE id = ${id}`;

describe('prepared statements on the PostgreSQL store', () => {
  it('parses a query once per connection and reuses its plan', async () => {
    for (const id of [1, 2, 1]) await row(id).execute(store.db);
    const prepared = await sql<{ n: string; runs: string }>`
      SELECT count(*) AS n, sum(generic_plans + custom_plans) AS runs
      FROM pg_prepared_statements WHERE statement = 'SELECT * FROM shapes WHERE id = $1'`.execute(store.db);
    expect(prepared.rows[0]).toEqual({ n: '1', runs: '3' });
  });

  it('answers with the new columns after another server adds one, outside a transaction', async () => {
    expect((await row(1).execute(store.db)).rows).toEqual([{ id: 1, a: 'one' }]);
    await elsewhere("ALTER TABLE shapes ADD COLUMN b text NOT NULL DEFAULT 'new'");
    expect((await row(1).execute(store.db)).rows).toEqual([{ id: 1, a: 'one', b: 'new' }]);
  });

  it('fails only the transaction that met the change; the next one sees the new shape', async () => {
    expect((await row(2).execute(store.db)).rows).toEqual([{ id: 2, a: 'two', b: 'new' }]);
    await elsewhere("ALTER TABLE shapes ADD COLUMN c int NOT NULL DEFAULT 3");
    await expect(store.db.transaction().execute((tx) => row(2).execute(tx))).rejects.toThrow(/cached plan must not change result type/);
    const again = await store.db.transaction().execute((tx) => row(2).execute(tx));
    expect(again.rows).toEqual([{ id: 2, a: 'two', b: 'new', c: 3 }]);
  });

  it('still runs texts without parameters that hold several statements', async () => {
    await sql`UPDATE shapes SET a = 'uno' WHERE id = 1; UPDATE shapes SET a = 'dos' WHERE id = 2`.execute(store.db);
    const rows = await sql<{ a: string }>`SELECT a FROM shapes WHERE id IN (${1}, ${2}) ORDER BY id`.execute(store.db);
    expect(rows.rows.map((r) => r.a)).toEqual(['uno', 'dos']);
  });
});

describe('the pool', () => {
  it('opens every connection at start and serves a burst with them, connecting nothing new', async () => {
    const url = await cluster.createDatabase('warm');
    const dbName = new URL(url).pathname.slice(1);
    const pids = async () => {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        const r = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 ORDER BY pid', [dbName]);
        return r.rows.map((row) => row.pid);
      } finally {
        await c.end();
      }
    };
    const warm = await openStore({ databaseUrl: url, poolSize: 4 });
    try {
      // Opened in the background after start: wait for them, not for a fixed time.
      const deadline = Date.now() + 20_000;
      let before = await pids();
      while (before.length < 4 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        before = await pids();
      }
      expect(before).toHaveLength(4);
      const seen = await Promise.all(Array.from({ length: 8 }, () => sql<{ pid: number }>`SELECT pg_backend_pid() AS pid, pg_sleep(0.05)`.execute(warm.db)));
      const served = new Set(seen.map((r) => r.rows[0]!.pid));
      expect([...served].every((pid) => before.includes(pid))).toBe(true);
      expect(await pids()).toEqual(before);
    } finally {
      await warm.close();
    }
  }, 60_000);
});
