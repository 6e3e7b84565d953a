/**
 * Caps hold under every path, on the PostgreSQL store with a real PostgreSQL target, attacked
 * through the API with requests fired in parallel: one pending extension per grant, the
 * extension cap never exceeded however many asks race (in the store and in the role's
 * VALID UNTIL on the target), the per-person limit on open grants never exceeded, and two
 * simultaneous first requests of one person both served with one JIT account; one account name
 * asked by two people at once goes to one of them.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { preparePgTarget, type PgTarget } from '../support/pg-target.js';
import { createMember, startTestServer, type TestServer } from '../support/test-server.js';
import type { ApiClient } from '../support/http.js';

const T = '/api/v1/tenants/default';
const CAP = 20 * 60;
let server: TestServer;
let target: PgTarget;
let store: TestDatabase;
let targetId: string;

async function person(name: string, roles: string[]): Promise<{ id: string; api: ApiClient }> {
  const email = `${name}.${randomBytes(3).toString('hex')}@example.com`;
  const m = await createMember(server.tb, 'default', email, roles);
  return { id: m.id, api: m.api };
}

async function policy(name: string, rules: Record<string, unknown>): Promise<string> {
  const res = await server.admin.post(`${T}/policies`, {
    name: `${name}-${randomBytes(2).toString('hex')}`,
    targetId,
    requesterRoles: ['requester'],
    maxDurationSeconds: 3600,
    defaultDurationSeconds: 600,
    rules,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

const ask = (policyId: string, extra: Record<string, unknown> = {}) => ({
  targetId,
  policyId,
  entitlements: [target.readers],
  durationSeconds: 600,
  reason: 'INC-7 caps under concurrency',
  ...extra,
});

async function validUntil(username: string): Promise<Date | null> {
  const c = new pg.Client({ connectionString: target.db.url });
  await c.connect();
  try {
    const r = await c.query<{ v: Date | null }>('select rolvaliduntil as v from pg_roles where rolname = $1', [username]);
    return r.rows[0]?.v ?? null;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  const adminUrl = inject('pgAdminUrl');
  store = await createTestDatabase(adminUrl);
  server = await startTestServer({ databaseUrl: store.url });
  target = await preparePgTarget(adminUrl);
  const added = await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config });
  expect(added.status).toBe(201);
  targetId = added.body.target.id;
}, 60_000);

afterAll(async () => {
  await server?.close();
  await target?.drop();
  await store?.drop();
});

describe('caps under concurrency', () => {
  it('allows one pending extension per grant: the second and third ask are 409, and the approved one stays within the cap', async () => {
    const approver = await person('approver', ['approver']);
    const pid = await policy('ext-approval', {
      approvalLevels: [{ approverIds: [approver.id], quorum: 1 }],
      autoApprove: [{ name: 'grants need no approval here' }],
      extension: { allowed: true, maxTotalSeconds: CAP },
    });
    const alice = await person('alice', ['requester']);
    const g = await alice.api.post(`${T}/requests`, ask(pid));
    expect(g.status).toBe(201);
    expect(g.body.state).toBe('active');

    const first = await alice.api.post(`${T}/grants/${g.body.id}/extend`, { seconds: 300, reason: 'need five more minutes' });
    expect(first.status).toBe(200);
    expect(first.body.applied).toBe(false);
    for (const seconds of [300, 600]) {
      const again = await alice.api.post(`${T}/grants/${g.body.id}/extend`, { seconds, reason: 'and some more please' });
      expect(again.status).toBe(409);
      expect(again.body.error.message).toMatch(/already waiting for approval/);
    }
    const inbox = await approver.api.get(`${T}/approvals`);
    expect(inbox.body.items.filter((i: { grant: { id: string } }) => i.grant.id === g.body.id)).toHaveLength(1);

    const approved = await approver.api.post(`${T}/extensions/${first.body.extensionId}/approve`, { reason: 'fine' });
    expect(approved.status).toBe(200);
    expect(approved.body.state).toBe('approved');
    const view = approved.body.grant;
    expect(Date.parse(view.expiresAt) - Date.parse(view.startsAt)).toBe(900_000);
    // Once decided, the next ask may wait again.
    const next = await alice.api.post(`${T}/grants/${g.body.id}/extend`, { seconds: 300, reason: 'last five minutes' });
    expect(next.status).toBe(200);
  });

  it('never lets extensions asked at once add up past the cap, in the store or on the target', async () => {
    const pid = await policy('ext-self', { extension: { allowed: true, maxTotalSeconds: CAP, selfApprove: true } });
    const bob = await person('bob', ['requester']);
    const g = await bob.api.post(`${T}/requests`, ask(pid));
    expect(g.body.state).toBe('active');

    // Each ask is within the cap alone (10 + 5 ≤ 20 minutes); all six together would be 40.
    const results = await Promise.all(
      Array.from({ length: 6 }, () => bob.api.post(`${T}/grants/${g.body.id}/extend`, { seconds: 300, reason: 'racing for more time' })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 409 || s === 422), JSON.stringify(results.map((r) => r.body))).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(2);

    const view = (await bob.api.get(`${T}/grants/${g.body.id}`)).body;
    const span = Date.parse(view.expiresAt) - Date.parse(view.startsAt);
    expect(span).toBeLessThanOrEqual(CAP * 1000);
    const onTarget = await validUntil(view.username);
    expect(onTarget).not.toBeNull();
    expect(onTarget!.getTime()).toBeLessThanOrEqual(Date.parse(view.startsAt) + CAP * 1000);
    // Asked once more after the race: the answer names the room left, nothing changes.
    const more = await bob.api.post(`${T}/grants/${g.body.id}/extend`, { seconds: 600, reason: 'more after the race' });
    expect(more.status).toBe(422);
    expect(more.body.error.message).toMatch(/caps a grant at 20m/);
    expect((await bob.api.get(`${T}/grants/${g.body.id}`)).body.expiresAt).toBe(view.expiresAt);
  });

  it('never lets requests of one person fired at once exceed the open-grant limit', async () => {
    const pid = await policy('two-at-a-time', { maxConcurrentGrants: 2 });
    const carol = await person('carol', ['requester']);
    const results = await Promise.all(Array.from({ length: 8 }, () => carol.api.post(`${T}/requests`, ask(pid))));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses, JSON.stringify(results.map((r) => r.body))).toEqual([201, 201, 422, 422, 422, 422, 422, 422]);
    for (const r of results.filter((x) => x.status === 422)) expect(r.body.error.message).toMatch(/at most 2/);
    const open = (await carol.api.get(`${T}/grants?mine=true`)).body.items.filter((i: { policyId: string }) => i.policyId === pid);
    expect(open.map((i: { state: string }) => i.state)).toEqual(['active', 'active']);
  });

  it('serves two simultaneous first requests of one person for one target, with one JIT account', async () => {
    const pid = await policy('first-requests', {});
    const dave = await person('dave', ['requester']);
    const [a, b] = await Promise.all([dave.api.post(`${T}/requests`, ask(pid)), dave.api.post(`${T}/requests`, ask(pid, { entitlements: [target.writers] }))]);
    expect([a.status, b.status], JSON.stringify([a.body, b.body])).toEqual([201, 201]);
    expect([a.body.state, b.body.state]).toEqual(['active', 'active']);
    expect(a.body.username).toBe(b.body.username);
    const accounts = (await dave.api.get(`${T}/jit-accounts`)).body.items.filter((x: { targetId?: string; username: string }) => x.username === a.body.username);
    expect(accounts).toHaveLength(1);
  });
  it('gives an account name asked by two people at once to one of them; the other is told to choose another, never a 500', async () => {
    const pid = await policy('same-name', {});
    for (let round = 0; round < 4; round++) {
      const name = `shared_${randomBytes(3).toString('hex')}`;
      const [erin, frank] = await Promise.all([person('erin', ['requester']), person('frank', ['requester'])]);
      const answers = await Promise.all([erin, frank].map((p) => p.api.post(`${T}/requests`, ask(pid, { accountName: name }))));
      expect(answers.map((a) => a.status).sort(), JSON.stringify(answers.map((a) => a.body))).toEqual([201, 409]);
      const refused = answers.find((a) => a.status === 409)!;
      expect(refused.body.error.message).toContain(`"${name}" is already used by another person on this target`);
      // Nothing of the refused request was left behind: one account of that name, one request.
      const c = new pg.Client({ connectionString: store.url });
      await c.connect();
      try {
        const accounts = await c.query('select operator_id from jit_accounts where username = $1', [name]);
        expect(accounts.rows).toHaveLength(1);
        const loser = [erin, frank].find((_, i) => answers[i]!.status === 409)!;
        const left = await c.query('select count(*)::int as n from access_requests where requester_id = $1', [loser.id]);
        expect(left.rows[0].n).toBe(0);
      } finally {
        await c.end();
      }
    }
  });

  it('keeps one live account per name on a target whatever its case, in the store itself (two first requests racing)', async () => {
    const [gil, hoa] = await Promise.all([person('gil', ['requester']), person('hoa', ['requester'])]);
    const c = new pg.Client({ connectionString: store.url });
    await c.connect();
    try {
      const tenant = (await c.query('select tenant_id from targets where id = $1', [targetId])).rows[0].tenant_id;
      const insert = (id: string, operatorId: string, username: string) =>
        c.query(
          `insert into jit_accounts (id, tenant_id, target_id, operator_id, username, status, created_at, updated_at) values ($1, $2, $3, $4, $5, 'provisioning', now(), now())`,
          [id, tenant, targetId, operatorId, username],
        );
      const name = `Case_${randomBytes(3).toString('hex')}`;
      await insert(randomUUID(), gil.id, name);
      const clash = await insert(randomUUID(), hoa.id, name.toLowerCase()).then(() => null, (err: { code?: string; constraint?: string }) => err);
      expect(clash).toMatchObject({ code: '23505', constraint: 'jit_accounts_live_name' });
    } finally {
      await c.end();
    }
  });
});
