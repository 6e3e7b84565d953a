/**
 * Six people requesting at once for 30 s on the PostgreSQL store, while their other grants are
 * activating, being revoked by hand and expiring on schedule: no request may fail with a 5xx,
 * and the database itself logs no deadlock. (The audit log used to take one global lock in the
 * opposite order to the row locks; now an audit event is a plain insert.)
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { finalStates } from '../../src/core/lifecycle.js';
import { startPostgres, type PgCluster } from '../harness/postgres.js';
import type { ApiClient } from '../support/http.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';

const PEOPLE = 6;
const LOOPS_PER_PERSON = 2;
const RUN_MS = 30_000;

let cluster: PgCluster;
let server: TestServer;
let targetId = '';
const people: ApiClient[] = [];

beforeAll(async () => {
  // A cluster of its own: its log must hold only what this test did.
  cluster = await startPostgres({ name: 'concurrent-requests' });
  const databaseUrl = await cluster.createDatabase('timebox');
  server = await startTestServer({ databaseUrl, env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true', TIMEBOX_SWEEP_MS: '200' } });
  const target = await server.admin.post('/api/v1/tenants/default/targets', {
    name: 'orders',
    kind: 'fake',
    config: { instance: `concurrent-${randomUUID()}`, entitlements: ['readers', 'writers', 'auditors'], latencyMs: 20 },
  });
  expect(target.status).toBe(201);
  targetId = target.body.target.id;
  const policy = await server.admin.post('/api/v1/tenants/default/policies', {
    name: 'orders access',
    targetId,
    requesterRoles: ['requester'],
    maxDurationSeconds: 3600,
    defaultDurationSeconds: 10,
  });
  expect(policy.status).toBe(201);
  for (let i = 0; i < PEOPLE; i++) people.push(await addOperator(server, `load${i}.${randomUUID().slice(0, 6)}@example.com`, ['requester']));
}, 180_000);

afterAll(async () => {
  await server?.close();
  await cluster?.destroy();
});

describe('concurrent requests on PostgreSQL', () => {
  it('serves six people requesting for 30 s with 0 × 5xx and no deadlock in the database log', async () => {
    const statuses = new Map<string, number>();
    const failures: string[] = [];
    const count = (what: string, status: number, body: unknown) => {
      const key = `${what} ${status}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (status >= 500) failures.push(`${key}: ${JSON.stringify(body)}`);
    };
    const end = Date.now() + RUN_MS;
    let n = 0;
    const loop = async (person: ApiClient) => {
      while (Date.now() < end) {
        const entitlement = ['readers', 'writers', 'auditors'][n++ % 3]!;
        const req = await person.post('/api/v1/tenants/default/requests', {
          targetId,
          entitlements: [entitlement],
          durationSeconds: 10,
          reason: 'load test of concurrent requests',
        });
        count('request', req.status, req.body);
        // Half are ended by hand at once (revoking while other requests activate), the rest expire.
        if (req.status === 201 && n % 2 === 0) {
          const rev = await person.post(`/api/v1/tenants/default/grants/${req.body.id}/revoke`, { reason: 'done' });
          count('revoke', rev.status, rev.body);
        }
      }
    };
    await Promise.all(people.flatMap((p) => Array.from({ length: LOOPS_PER_PERSON }, () => loop(p))));

    const summary = Object.fromEntries([...statuses].sort());
    expect(failures, JSON.stringify(summary)).toEqual([]);
    expect(statuses.get('request 201') ?? 0).toBeGreaterThan(30);
    expect(statuses.get('revoke 200') ?? 0).toBeGreaterThan(10);
    const states = await server.tb.store.db.selectFrom('grants').select('state').execute();
    expect(states.filter((g) => g.state === 'revoked').length).toBeGreaterThan(10);

    const log = await readFile(cluster.logFile, 'utf8');
    expect(log).not.toMatch(/deadlock detected/);

    // Everything that happened is in the audit log, and it verifies. The last grants are still
    // expiring on schedule (each writes events); once every grant has ended, nothing else writes.
    await vi.waitFor(
      async () => {
        const open = await server.tb.store.db.selectFrom('grants').select('id').where('state', 'not in', [...finalStates]).execute();
        if (open.length > 0) throw new Error(`${open.length} grant(s) have not ended yet`);
      },
      { timeout: 60_000, interval: 200 },
    );
    await server.tb.audit.sealer.sealNow({ checkpoint: true });
    const report = (await server.admin.post('/api/v1/audit/verify')).body;
    expect(report).toMatchObject({ ok: true, unsealed: 0 });
    console.log(`concurrent requests: ${JSON.stringify(summary)}; audit seal lag ${JSON.stringify(server.tb.audit.sealer.stats().lagMs)}`);
  }, 240_000);
});
