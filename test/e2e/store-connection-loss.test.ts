/**
 * PostgreSQL ends the server's connections (a restart, a failover, an administrator's
 * pg_terminate_backend): Timebox keeps running, a request that meets a dead connection is told
 * to try again (503, never a 500), and the next ones are served on new connections. Before, an
 * idle connection's error had no listener and ended the process; then one in use did the same.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/db.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let database: TestDatabase;
let server: TestServer;

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  server = await startTestServer({ databaseUrl: database.url });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await database?.drop();
});

/** Ends the given backends (all of the database's but the caller's when none are named), and waits until they are gone. */
async function terminate(pids?: number[]): Promise<number> {
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  try {
    const found = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND ($1::int[] IS NULL OR pid = ANY($1))`,
      [pids ?? null],
    );
    const gone = found.rows.map((r) => r.pid);
    await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [gone]);
    // pg_terminate_backend only signals; the backend's exit is what closes its socket.
    for (;;) {
      const left = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)', [gone]);
      if (left.rowCount === 0) return gone.length;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await admin.end();
  }
}

it('answers every request after every connection to its database was terminated, never with a 500', async () => {
  // Several calls at once, so the pool holds several idle connections afterwards.
  const before = await Promise.all(Array.from({ length: 4 }, () => server.admin.get('/api/v1/me')));
  expect(before.map((r) => r.status)).toEqual([200, 200, 200, 200]);

  expect(await terminate()).toBeGreaterThan(0);

  // A request may still meet a connection whose end the server has not yet read: it is told to
  // try again. Whatever the timing, the same process then serves requests on new connections.
  const answers: { status: number; code?: string }[] = [];
  for (let i = 0; i < 12 && answers.at(-1)?.status !== 200; i += 1) {
    const r = await server.admin.get<{ error?: { code: string } }>('/api/v1/me');
    answers.push({ status: r.status, code: r.body.error?.code });
  }
  for (const a of answers.slice(0, -1)) expect(a).toEqual({ status: 503, code: 'store_unavailable' });
  expect(answers.at(-1)?.status).toBe(200);
  const next = await Promise.all(Array.from({ length: 4 }, () => server.admin.get('/api/v1/me')));
  expect(next.map((r) => r.status)).toEqual([200, 200, 200, 200]);
});

it('tells the holder of a connection in use that the database ended it, and goes on with a new one', async () => {
  const losses: Error[] = [];
  let lost: () => void = () => {};
  const lossSeen = new Promise<void>((resolve) => (lost = resolve));
  const store = await openStore({ databaseUrl: database.url, poolSize: 2, onConnectionLost: (err) => (losses.push(err), lost()) });
  try {
    const failure = await store.db
      .transaction()
      .execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
        await terminate([rows[0]!.pid]);
        // Between two statements of a transaction the pool is not listening to this connection;
        // its error used to have no listener at all and ended the process.
        await lossSeen;
        await sql`SELECT 1`.execute(trx);
      })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect(failure).toMatchObject({ code: 'store_unavailable', status: 503 });
    expect(losses).toHaveLength(1); // one report per connection, though pg tells twice (the message, then the socket's end)

    const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(store.db);
    expect(rows).toEqual([{ one: 1 }]);
  } finally {
    await store.close();
  }
});
