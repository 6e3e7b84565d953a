/** `timebox policies simulate` answers what a request would meet, and writes nothing. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiLogin, apiPost, runCli, startTestServer, type TestServer } from './harness.js';

let server: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  const token = await apiLogin(server);
  const target = await apiPost<{ target: { id: string } }>(server, token, '/api/v1/tenants/default/targets', {
    name: 'ledger',
    kind: 'fake',
    config: { instance: `simulate-${randomUUID()}`, entitlements: ['readers'] },
  });
  await apiPost(server, token, '/api/v1/tenants/default/policies', {
    name: 'office hours',
    targetId: target.target.id,
    requesterRoles: ['owner'],
    maxDurationSeconds: 4 * 3600,
    defaultDurationSeconds: 3600,
    rules: { windows: [{ timeZone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' }] },
  });
  env = { TIMEBOX_CONFIG: `${server.dir}/cli.json`, TIMEBOX_SERVER: server.url, TIMEBOX_TOKEN: token };
});
afterAll(async () => server?.close());

describe('timebox policies simulate', () => {
  const sim = (...extra: string[]) =>
    runCli(['policies', 'simulate', '--as', server.admin.email, '--target', 'ledger', '--entitlement', 'readers', ...extra], { env });

  it('explains a refusal on Saturday and an approval on Tuesday morning', async () => {
    const saturday = await sim('--duration', '4h', '--at', '2026-06-06T10:00:00Z');
    expect(saturday.code).toBe(5);
    expect(saturday.stdout).toMatch(/policy:\s+office hours/);
    expect(saturday.stdout).toMatch(/refused: access is allowed only mon,tue,wed,thu,fri 08:00–18:00 Europe\/Berlin/);

    const tuesday = await sim('--duration', '1h', '--at', '2026-06-02T07:00:00Z');
    expect(tuesday.code).toBe(0);
    expect(tuesday.stdout).toMatch(/outcome:\s+approved at once/);
    const grants = await fetch(`${server.url}/api/v1/tenants/default/grants`, { headers: { authorization: `Bearer ${env.TIMEBOX_TOKEN}` } });
    expect(((await grants.json()) as { items: unknown[] }).items).toEqual([]);
  });
});
