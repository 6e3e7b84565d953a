/**
 * The newcomer's story, from the outside, against a real PostgreSQL target: connect the
 * server, grant yourself a role with a reason, log in with psql, and watch Timebox take it
 * away at expiry, ending the session that was open. Run on both stores Timebox supports.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import type { ApiClient } from '../support/http.js';

describe.each(['pglite', 'postgres'] as const)('PostgreSQL JIT role with Timebox on %s', (storeKind) => {
  let server: TestServer;
  let target: PgTarget;
  let store: TestDatabase | undefined;
  let alice: ApiClient;
  let targetId: string;
  const email = `alice.${randomBytes(3).toString('hex')}@example.com`;

  beforeAll(async () => {
    const adminUrl = inject('pgAdminUrl');
    if (storeKind === 'postgres') store = await createTestDatabase(adminUrl);
    server = await startTestServer({ databaseUrl: store?.url });
    target = await preparePgTarget(adminUrl);
    const added = await server.admin.post('/api/v1/tenants/default/targets', { name: 'orders-db', kind: 'postgres', config: target.config });
    expect(added.status).toBe(201);
    expect(added.body.check.ok).toBe(true);
    targetId = added.body.target.id;
    const policy = await server.admin.post('/api/v1/tenants/default/policies', {
      name: 'db access',
      targetId,
      requesterRoles: ['requester'],
      maxDurationSeconds: 4 * 3600,
      defaultDurationSeconds: 3600,
    });
    expect(policy.status).toBe(201);
    alice = await addOperator(server, email, ['requester']);
  });

  afterAll(async () => {
    await server?.close();
    await target?.drop();
    await store?.drop();
  });

  it('logs in during the grant, is refused after expiry, and the open session is ended', async () => {
    const res = await alice.post('/api/v1/tenants/default/requests', {
      targetId,
      entitlements: [target.readers],
      durationSeconds: 1800,
      reason: 'INC-4711 check the orders table',
    });
    expect(res.status).toBe(201);
    expect(res.body.state).toBe('active');
    expect(res.body.username).toMatch(/^alice_[a-z0-9]+_jit$|^alice_jit$/);
    const grantId = res.body.id;
    const cred = await alice.post(`/api/v1/tenants/default/grants/${grantId}/credential`);
    expect(cred.status).toBe(200);
    const { username, password } = cred.body;

    // Shown once only.
    const again = await alice.post(`/api/v1/tenants/default/grants/${grantId}/credential`);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already shown once/);
    // Not in list responses either.
    expect(JSON.stringify((await alice.get('/api/v1/tenants/default/grants')).body)).not.toContain(password);

    const during = await psql(target, username, password, 'select item from orders order by id');
    expect(during).toMatchObject({ ok: true, stdout: 'widget\ngadget' });

    const session = new pg.Client({ host: target.host, port: target.port, database: target.database, user: username, password });
    await session.connect();
    const ended = new Promise<string>((resolve) => {
      session.on('error', (e) => resolve(e.message));
      session.on('end', () => resolve('ended'));
    });
    expect((await session.query('select count(*)::int as n from orders')).rows[0].n).toBe(2);

    server.clock.shift(1800_000);
    await server.tb.scheduler.drain();

    expect(await ended).toMatch(/terminating connection|ended/);
    const after = await psql(target, username, password, 'select 1');
    expect(after.ok).toBe(false);
    expect(after.stderr).toMatch(/password authentication failed|not permitted to log in/);

    const grant = await alice.get(`/api/v1/tenants/default/grants/${grantId}`);
    expect(grant.body).toMatchObject({ state: 'revoked', endReason: 'expired' });
    const accounts = await alice.get('/api/v1/tenants/default/jit-accounts');
    expect(accounts.body.items).toEqual([expect.objectContaining({ username, status: 'disabled' })]);
  });

  it('enables the same JIT account again with a new reason and a fresh password', async () => {
    const accounts = await alice.get('/api/v1/tenants/default/jit-accounts');
    const account = accounts.body.items[0];
    const res = await alice.post(`/api/v1/tenants/default/jit-accounts/${account.id}/enable`, {
      reason: 'INC-4712 follow-up on orders',
      durationSeconds: 900,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: 'active', username: account.username, entitlements: [target.readers] });
    const cred = await alice.post(`/api/v1/tenants/default/grants/${res.body.id}/credential`);
    const ok = await psql(target, account.username, cred.body.password, 'select count(*) from orders');
    expect(ok).toMatchObject({ ok: true, stdout: '2' });

    const ended = await alice.post(`/api/v1/tenants/default/grants/${res.body.id}/revoke`, { reason: 'finished early' });
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ state: 'revoked', endReason: 'finished early' });
    expect((await psql(target, account.username, cred.body.password, 'select 1')).ok).toBe(false);
  });

  it('an entitlement dropped on the target fails one activation, and the next request is refused at once', async () => {
    const role = `gone_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: target.db.url });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${role} NOLOGIN`);
      const ask = () => alice.post('/api/v1/tenants/default/requests', { targetId, entitlements: [role], durationSeconds: 600, reason: 'INC-4712 look at the role' });
      const first = await ask();
      expect(first.body.state, JSON.stringify(first.body)).toBe('active');
      expect((await alice.post(`/api/v1/tenants/default/grants/${first.body.id}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
      await admin.query(`DROP ROLE ${role}`);
      // Found a moment ago, so this request is taken; the target refuses its activation.
      const second = await ask();
      expect(second.status).toBe(201);
      expect(second.body.state).toBe('failed');
      expect(second.body.endReason).toMatch(/do not exist on the server/);
      // That refusal is not forgotten: no second failed grant within the minute.
      const third = await ask();
      expect(third.status).toBe(400);
      expect(third.body.error.message).toBe(`target "orders-db" has no entitlement named "${role}"`);
    } finally {
      await admin.end();
    }
  });

  it('records every step in the audit log, and the chain verifies', async () => {
    const audit = await server.admin.get('/api/v1/tenants/default/audit?limit=200');
    const actions = audit.body.items.map((e: { action: string }) => e.action);
    for (const a of ['target.created', 'policy.created', 'grant.requested', 'grant.activating', 'grant.active', 'grant.revoking', 'grant.revoked', 'grant.credential_revealed']) {
      expect(actions).toContain(a);
    }
    expect(JSON.stringify(audit.body)).not.toMatch(/"password"\s*:\s*"[^"]{8,}/);
    const verify = await server.admin.post('/api/v1/audit/verify');
    expect(verify.body).toMatchObject({ ok: true, problems: [] });
  });
});
