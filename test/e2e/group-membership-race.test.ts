/**
 * Adding someone to an operator group while they are being removed from the tenant never leaves
 * an ex-member in the group (where a policy naming the group would still list them). The removal
 * is held open in a real PostgreSQL transaction while the API adds the person: the addition must
 * wait for it and then be refused, not slip in beside it.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { createMember, startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
let server: TestServer;
let store: TestDatabase;

beforeAll(async () => {
  store = await createTestDatabase(inject('pgAdminUrl'));
  server = await startTestServer({ databaseUrl: store.url });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await store?.drop();
});

it('an addition to a group racing the person’s removal from the tenant waits for it and is refused', async () => {
  const member = await createMember(server.tb, 'default', `gus.${randomBytes(3).toString('hex')}@example.com`, ['approver']);
  const group = await server.admin.post(`${T}/groups`, { name: `leads-${randomBytes(2).toString('hex')}`, memberIds: [] });
  expect(group.status, JSON.stringify(group.body)).toBe(201);

  // The removal, as the server writes it, held open: the membership is gone but not yet committed.
  const removal = new pg.Client({ connectionString: store.url });
  await removal.connect();
  try {
    await removal.query('BEGIN');
    await removal.query('DELETE FROM memberships WHERE operator_id = $1', [member.id]);
    await removal.query('DELETE FROM operator_group_members WHERE operator_id = $1', [member.id]);

    let settled = false;
    const adding = server.admin.call('PUT', `${T}/groups/${group.body.id}/members/${member.id}`).finally(() => (settled = true));
    // The addition must block on the removal's row lock (it would otherwise finish on its own).
    const watcher = new pg.Client({ connectionString: store.url });
    await watcher.connect();
    try {
      for (;;) {
        const waiting = await watcher.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        if (waiting.rows[0].n > 0 || settled) break;
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      await watcher.end();
    }
    expect(settled, 'the addition went ahead without waiting for the removal').toBe(false);
    await removal.query('COMMIT');

    const added = await adding;
    expect(added.status, JSON.stringify(added.body)).toBe(404);
  } finally {
    await removal.end();
  }
  const groups = await server.admin.get(`${T}/groups`);
  expect(groups.body.items.find((g: { id: string }) => g.id === group.body.id).memberIds).toEqual([]);
});
