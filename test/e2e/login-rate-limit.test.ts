/**
 * The sign-in limit holds across server processes: two Timebox servers share one PostgreSQL
 * database (as behind a load balancer), and password guesses for one account alternate between
 * them. The eleventh attempt within the minute is refused with 429 whichever server gets it (the
 * right password included), while another account from the same address is still answered.
 * Each limited route counts on its own: single sign-on traffic does not use up the budget of
 * invitation links from the same address.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { LOGIN_ATTEMPTS_PER_MINUTE } from '../../src/http/routes/auth-routes.js';
import { ACCEPT_ATTEMPTS_PER_MINUTE } from '../../src/http/routes/identity-routes.js';
import { startTimebox, type Timebox } from '../../src/server/start.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { apiClient } from '../support/http.js';

let store: TestDatabase;
let first: Timebox;
let second: Timebox;
const dirs: string[] = [];

async function start(databaseUrl: string, masterKey: string): Promise<Timebox> {
  const dir = await mkdtemp(join(tmpdir(), 'timebox-ratelimit-'));
  dirs.push(dir);
  return startTimebox({
    env: { PORT: '0', HOST: '127.0.0.1', TIMEBOX_DATA_DIR: dir, TIMEBOX_LOG_LEVEL: 'silent', TIMEBOX_MASTER_KEY: masterKey, DATABASE_URL: databaseUrl, TIMEBOX_OUTBOUND_ALLOW: 'loopback' },
  });
}

beforeAll(async () => {
  store = await createTestDatabase(inject('pgAdminUrl'));
  const key = randomBytes(32).toString('base64');
  first = await start(store.url, key);
  second = await start(store.url, key);
});

afterAll(async () => {
  await second?.close();
  await first?.close();
  await store?.drop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it(`allows ${LOGIN_ATTEMPTS_PER_MINUTE} guesses a minute per account in all, not per server`, async () => {
  const owner = first.bootstrap!;
  const servers = [apiClient(first.url), apiClient(second.url)];
  for (let i = 0; i < LOGIN_ATTEMPTS_PER_MINUTE; i++) {
    const r = await servers[i % 2]!.post('/api/v1/auth/login', { email: owner.email, password: `wrong-${i}` });
    expect(r.status, `attempt ${i + 1}`).toBe(401);
  }
  for (const s of servers) {
    const blocked = await s.post('/api/v1/auth/login', { email: owner.email, password: owner.password });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.message).toMatch(/^too many sign-in attempts; try again in /);
  }
  // The limit is per address and account: another account is still answered (401, not 429).
  expect((await servers[1]!.post('/api/v1/auth/login', { email: 'someone.else@example.test', password: 'x' })).status).toBe(401);
});

it('counts each limited route on its own: single sign-on starts do not use up the invitation links\' budget', async () => {
  const api = apiClient(first.url);
  // More single sign-on starts than invitation previews are allowed, from the same address.
  for (let i = 0; i <= ACCEPT_ATTEMPTS_PER_MINUTE; i++) {
    const r = await api.get('/api/v1/auth/sso/default/start');
    expect(r.status, `start ${i + 1}`).not.toBe(429);
  }
  const preview = await api.post('/api/v1/invitations/preview', { token: `tbi_${randomBytes(32).toString('base64url')}` });
  expect(preview.status, JSON.stringify(preview.body)).not.toBe(429);
  // Its own budget still holds.
  let last = 0;
  for (let i = 0; i < ACCEPT_ATTEMPTS_PER_MINUTE; i++) last = (await api.post('/api/v1/invitations/preview', { token: 'x'.repeat(40) })).status;
  expect(last).toBe(429);
});
