/**
 * What every benchmark needs before it measures: server settings, a logger that keeps the
 * report on stdout readable, and a tenant with a requester, a fake target and a policy, created
 * through the HTTP API the way an administrator would (so the benchmark breaks if the API does).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { BootstrapCredentials } from '../src/auth/bootstrap.js';

export interface BenchTenant {
  tenantId: string;
  slug: string;
  targetId: string;
  policyId: string;
  /** The fake target's in-memory instance (fakeTargetState(instance)). */
  instance: string;
  requesterId: string;
}

export const newMasterKey = () => randomBytes(32).toString('base64');

/** This run's data folders, under one folder removed when the run ends. */
let scratch: string | undefined;
function throwawayDataDir(): string {
  if (!scratch) {
    const base = mkdtempSync(path.join(tmpdir(), 'timebox-bench-'));
    scratch = base;
    process.once('exit', () => rmSync(base, { recursive: true, force: true }));
  }
  return mkdtempSync(path.join(scratch, 'data-'));
}

/**
 * Settings for startTimebox / the serve command; PORT 0 unless the caller picks one. A data
 * folder of its own even on PostgreSQL: the audit signing key and witness live there, and the
 * default (./data) is the user's own server's.
 */
export function serverEnv(extra: Record<string, string>): Record<string, string> {
  return {
    TIMEBOX_DATA_DIR: throwawayDataDir(),
    PORT: '0',
    HOST: '127.0.0.1',
    TIMEBOX_LOG_LEVEL: 'warn',
    TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true',
    TIMEBOX_MASTER_KEY: newMasterKey(),
    // Benchmark targets (PostgreSQL, the AD DC) run on this host.
    TIMEBOX_OUTBOUND_ALLOW: 'loopback',
    ...extra,
    // For experiments: BENCH_SERVER_ENV='{"TIMEBOX_AUDIT_SEAL_MS":"60000"}' (what a setting costs).
    ...(process.env.BENCH_SERVER_ENV ? (JSON.parse(process.env.BENCH_SERVER_ENV) as Record<string, string>) : {}),
  };
}

/** Server warnings go to stderr: stdout carries the report only. */
export const benchLogger = (): Logger => pino({ level: process.env.BENCH_LOG_LEVEL ?? 'warn', base: { service: 'timebox' } }, pino.destination(2));

/** Progress lines on stderr, with seconds since the run started. */
const t0 = Date.now();
export const say = (msg: string) => process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

/** One JSON call to the API as a client makes it; a non-2xx answer throws with its status and text. */
export async function call<T>(base: string, method: string, path: string, token: string | null, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, base), {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A person invited with `roles` accepts with their own password and signs in, as people join. */
export async function join(url: string, adminToken: string, slug: string, email: string, roles: string[]): Promise<{ operatorId: string; token: string }> {
  const invited = await call<{ link: string }>(url, 'POST', `/api/v1/tenants/${slug}/members`, adminToken, { email, roles });
  const password = `Bench-${randomBytes(12).toString('base64url')}`;
  await call(url, 'POST', '/api/v1/invitations/accept', null, { token: invited.link.split('/invite/')[1], password });
  const session = await call<{ token: string; operator: { id: string } }>(url, 'POST', '/api/v1/auth/login', null, { email, password });
  return { operatorId: session.operator.id, token: session.token };
}

export async function setupTenant(
  url: string,
  admin: BootstrapCredentials | null,
  opts: { maxDurationSeconds: number },
): Promise<BenchTenant> {
  if (!admin) throw new Error('the server was not started on an empty database: no bootstrap credentials to sign in with');
  const first = await call<{ token: string; passwordChangeRequired?: boolean }>(url, 'POST', '/api/v1/auth/login', null, admin);
  const { token } = first;
  // The printed password must be changed before anything else.
  if (first.passwordChangeRequired) {
    const newPassword = `Bench-${randomBytes(12).toString('base64url')}`;
    await call(url, 'POST', '/api/v1/me/password', token, { currentPassword: admin.password, newPassword });
    admin.password = newPassword;
  }
  const slug = 'bench';
  const tenant = await call<{ id: string }>(url, 'POST', '/api/v1/tenants', token, { slug, name: 'Benchmark' });
  const member = await join(url, token, slug, 'requester@bench.invalid', ['requester']);
  const instance = `bench-${randomBytes(4).toString('hex')}`;
  const { target } = await call<{ target: { id: string } }>(url, 'POST', `/api/v1/tenants/${slug}/targets`, token, {
    name: 'fake',
    kind: 'fake',
    config: { instance, entitlements: ['readers', 'writers'] },
  });
  const policy = await call<{ id: string }>(url, 'POST', `/api/v1/tenants/${slug}/policies`, token, {
    name: 'bench',
    targetId: target.id,
    requesterRoles: ['requester'],
    maxDurationSeconds: opts.maxDurationSeconds,
    defaultDurationSeconds: Math.min(3600, opts.maxDurationSeconds),
    reasonMinLength: 0,
  });
  return { tenantId: tenant.id, slug, targetId: target.id, policyId: policy.id, instance, requesterId: member.operatorId };
}
