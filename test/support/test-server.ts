/**
 * A real Timebox server in the test process, on the embedded store or on PostgreSQL, with a clock
 * the test can move forward so expiry is shown without waiting for it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTimebox, type Timebox } from '../../src/server/start.js';
import { seedDataDir } from '../harness/pglite-template.js';
import { createOperators } from '../../src/auth/operators.js';
import { ownPassword, signIn, signInFirstOwner, type ApiClient, type Member } from './http.js';

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
  // The embedded store only: a DATABASE_URL (either way) leaves the data dir to keys and files.
  if (!opts.databaseUrl && !opts.env?.DATABASE_URL) await seedDataDir(dataDir);
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
  // Changes the printed password as required at first sign-in; tb.bootstrap keeps the new one.
  const admin = await signInFirstOwner(tb.url, tb.bootstrap);
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

/**
 * A member with their own password, written straight into the store (as accepting an invitation
 * leaves them), then signed in. No invitation mail: tests with SMTP settings count their mails.
 * Invitations themselves are shown in test/e2e/invitations.test.ts.
 */
export async function createMember(tb: Timebox, tenant: string, email: string, roles: string[]): Promise<Member> {
  const operators = createOperators({ db: tb.store.db, audit: tb.deps.audit, clock: tb.deps.clock });
  const t = await tb.store.db.selectFrom('tenants').select('id').where('slug', '=', tenant).executeTakeFirstOrThrow();
  const password = ownPassword();
  const system = { type: 'system' as const, id: null };
  const op = await operators.create({ email, displayName: email.split('@')[0] ?? email, password }, system);
  await operators.setMembership(t.id, op.id, roles, system);
  return { id: op.id, email: op.email, password, api: await signIn(tb.url, email, password) };
}

/** Adds a new person to a tenant and signs them in (see createMember). */
export async function addOperator(s: TestServer, email: string, roles: string[], tenant = 'default'): Promise<ApiClient> {
  return (await createMember(s.tb, tenant, email, roles)).api;
}
