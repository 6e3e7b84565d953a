/**
 * A real Timebox server in the test process, on the embedded store or on PostgreSQL, with a clock
 * the test can move forward so expiry is shown without waiting for it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTimebox, type Timebox } from '../../src/server/start.js';
import { signIn, type ApiClient } from './http.js';

export function shiftableClock() {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    shift(ms: number) {
      offset += ms;
    },
  };
}

export interface TestServer {
  tb: Timebox;
  clock: ReturnType<typeof shiftableClock>;
  admin: ApiClient;
  url: string;
  close(): Promise<void>;
}

export async function startTestServer(opts: { databaseUrl?: string; env?: Record<string, string> } = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'timebox-test-'));
  const clock = shiftableClock();
  const tb = await startTimebox({
    clock,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      TIMEBOX_DATA_DIR: dataDir,
      TIMEBOX_LOG_LEVEL: process.env.TIMEBOX_TEST_LOG ?? 'silent',
      TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
      // Every test target, relay and receiver listens on this host.
      TIMEBOX_OUTBOUND_ALLOW: 'loopback',
      ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
      ...opts.env,
    },
  });
  if (!tb.bootstrap) throw new Error('expected a fresh store with a bootstrap owner');
  const admin = await signIn(tb.url, tb.bootstrap.email, tb.bootstrap.password);
  return {
    tb,
    clock,
    admin,
    url: tb.url,
    async close() {
      await tb.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Adds an operator to a tenant and signs them in. */
export async function addOperator(s: TestServer, email: string, roles: string[], tenant = 'default'): Promise<ApiClient> {
  const res = await s.admin.post<{ initialPassword?: string }>(`/api/v1/tenants/${tenant}/members`, { email, roles });
  if (res.status !== 201 || !res.body.initialPassword) throw new Error(`could not add ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  return signIn(s.url, email, res.body.initialPassword);
}
