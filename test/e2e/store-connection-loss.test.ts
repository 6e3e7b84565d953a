/**
 * PostgreSQL ends the server's connections (a restart, a failover, an administrator's
 * pg_terminate_backend): Timebox keeps running and the next request is served on a new
 * connection. Before, an idle connection's error had no listener and ended the process.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
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

it('serves the next request after every connection to its database was terminated', async () => {
  // Several calls at once, so the pool holds several idle connections afterwards.
  const before = await Promise.all(Array.from({ length: 4 }, () => server.admin.get('/api/v1/me')));
  expect(before.map((r) => r.status)).toEqual([200, 200, 200, 200]);

  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  try {
    const ended = await admin.query<{ n: string }>(
      'SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    expect(Number(ended.rows[0]!.n)).toBeGreaterThan(0);
  } finally {
    await admin.end();
  }

  // The same process answers, on new connections (a request may meet a dead one once: retried).
  const after = await server.admin.get('/api/v1/me');
  const again = after.status === 200 ? after : await server.admin.get('/api/v1/me');
  expect(again.status).toBe(200);
  expect((await server.admin.get('/api/v1/me')).status).toBe(200);
});
