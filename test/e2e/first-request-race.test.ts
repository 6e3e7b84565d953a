/**
 * Two replicas on one PostgreSQL store, each sweeping for due work every 50 ms, with people
 * sending requests to both: whichever replica runs the activation, the caller of
 * `POST /requests` is answered with its outcome (active), never a grant still `activating`.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { preparePgTarget, type PgTarget } from '../support/pg-target.js';
import { createMember, startTestServer, type TestServer } from '../support/test-server.js';
import { signIn, type ApiClient } from '../support/http.js';
import { startTimebox, type Timebox } from '../../src/server/start.js';

const T = '/api/v1/tenants/default';
const masterKey = randomBytes(32).toString('base64');
let first: TestServer;
let second: Timebox;
let secondDir: string;
let target: PgTarget;
let store: TestDatabase;
let targetId: string;

beforeAll(async () => {
  const adminUrl = inject('pgAdminUrl');
  store = await createTestDatabase(adminUrl);
  const env = { TIMEBOX_MASTER_KEY: masterKey, TIMEBOX_SWEEP_MS: '50' };
  first = await startTestServer({ databaseUrl: store.url, env });
  secondDir = await mkdtemp(join(tmpdir(), 'timebox-test-'));
  second = await startTimebox({
    // The target listens on this host, as for the first replica (startTestServer allows loopback).
    env: { PORT: '0', HOST: '127.0.0.1', TIMEBOX_DATA_DIR: secondDir, TIMEBOX_LOG_LEVEL: process.env.TIMEBOX_TEST_LOG ?? 'silent', DATABASE_URL: store.url, TIMEBOX_OUTBOUND_ALLOW: 'loopback', ...env },
  });
  target = await preparePgTarget(adminUrl);
  const added = await first.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config });
  expect(added.status).toBe(201);
  targetId = added.body.target.id;
  const policy = await first.admin.post(`${T}/policies`, {
    name: 'db',
    targetId,
    requesterRoles: ['requester'],
    maxDurationSeconds: 3600,
    defaultDurationSeconds: 600,
  });
  expect(policy.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await second?.close();
  await first?.close();
  if (secondDir) await rm(secondDir, { recursive: true, force: true });
  await target?.drop();
  await store?.drop();
});

describe('POST /requests with two replicas', () => {
  it('always answers the outcome of the activation, never activating', async () => {
    const people: ApiClient[][] = [];
    for (let i = 0; i < 4; i++) {
      const email = `p${i}.${randomBytes(3).toString('hex')}@example.com`;
      const m = await createMember(first.tb, 'default', email, ['requester']);
      const a = m.api;
      const b = await signIn(second.url, email, m.password);
      people.push([a, b]);
    }
    const states: string[] = [];
    for (let round = 0; round < 6; round++) {
      const answers = await Promise.all(
        people.flatMap(([a, b]) => [
          a!.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 600, reason: 'INC-8 two replicas' }),
          b!.post(`${T}/requests`, { targetId, entitlements: [target.writers], durationSeconds: 600, reason: 'INC-8 two replicas' }),
        ]),
      );
      for (const r of answers) {
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        states.push(r.body.state);
      }
    }
    expect(states).toHaveLength(48);
    expect(new Set(states)).toEqual(new Set(['active']));
  }, 180_000);
});
