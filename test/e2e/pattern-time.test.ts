/**
 * Administrators' patterns run in bounded time. A ticket pattern that makes a backtracking engine
 * take exponential time (`\d*` eight times over) is harmless on RE2: a long hostile ticket is
 * refused as fast as a short one, and the server keeps answering everyone else meanwhile.
 * Syntax RE2 does not have is refused when the policy is saved, naming the construct.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
const EVIL = '\\d*\\d*\\d*\\d*\\d*\\d*\\d*\\d*';
let server: TestServer;
let targetId: string;

const timed = async <R>(fn: () => Promise<R>): Promise<{ ms: number; out: R }> => {
  const t0 = performance.now();
  const out = await fn();
  return { ms: performance.now() - t0, out };
};
const ask = (ticket: string) =>
  server.admin.post(`${T}/requests`, { targetId, entitlements: ['readers'], durationSeconds: 600, reason: 'looking at orders', ticket });
const health = () => fetch(new URL('/healthz', server.url)).then((r) => r.status);
const policyNames = async () => ((await server.admin.get(`${T}/policies`)).body.items as Array<{ name: string }>).map((p) => p.name);

beforeAll(async () => {
  server = await startTestServer({ env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true' } });
  const t = await server.admin.post(`${T}/targets`, {
    name: 'fake-db',
    kind: 'fake',
    config: { instance: `pattern-${randomBytes(4).toString('hex')}`, entitlements: ['readers'] },
  });
  expect(t.status).toBe(201);
  targetId = t.body.target.id;
});

afterAll(async () => {
  await server?.close();
});

it('a pattern that backtracks exponentially elsewhere is saved, and a long hostile ticket neither stalls the request nor the server', async () => {
  const saved = await server.admin.post(`${T}/policies`, {
    name: 'evil pattern',
    targetId,
    requesterRoles: ['owner'],
    maxDurationSeconds: 3600,
    defaultDurationSeconds: 600,
    rules: { ticket: { required: true, pattern: EVIL } },
  });
  expect(saved.status, JSON.stringify(saved.body)).toBe(201);

  // Baseline on this machine, now: a short ticket that does not match, and a health check.
  let baseline = 0;
  for (let i = 0; i < 3; i++) {
    const r = await timed(() => ask('x'));
    expect(r.out.status).toBe(422);
    baseline = Math.max(baseline, r.ms, (await timed(health)).ms);
  }

  // 60 digits then a non-digit: a backtracking engine tries every split of the digits.
  const hostile = `${'1'.repeat(60)}x`;
  const [req, ok] = await Promise.all([timed(() => ask(hostile)), timed(health)]);
  expect(req.out.status).toBe(422);
  expect(req.out.body.error.message).toMatch(/ticket/i);
  expect(ok.out).toBe(200);
  // Generous against the baseline (a busy machine), yet far below what backtracking would take.
  const limit = Math.max(20 * baseline, 2000);
  expect(req.ms).toBeLessThan(limit);
  expect(ok.ms).toBeLessThan(limit);

  // The pattern still does its job: a matching ticket passes the check.
  const good = await ask('12345');
  expect(good.status, JSON.stringify(good.body)).toBe(201);
});

it.each([
  ['a backreference', '(INC|CHG)-\\d+-\\1', /backreferences/],
  ['a lookahead', 'INC-(?=\\d{4})\\d+', /lookahead/],
  ['a lookbehind', '(?<!X)INC-\\d+', /lookbehind/],
])('a pattern with %s is refused at save, naming it, and no policy is created', async (_what, pattern, message) => {
  const name = `unsupported ${randomBytes(3).toString('hex')}`;
  const res = await server.admin.post(`${T}/policies`, {
    name,
    targetId,
    requesterRoles: ['owner'],
    maxDurationSeconds: 3600,
    defaultDurationSeconds: 600,
    rules: { ticket: { required: true, pattern } },
  });
  expect(res.status).toBe(400);
  expect(res.body.error.message).toMatch(message);
  expect(res.body.error.message).toMatch(/not supported/);
  expect(await policyNames()).not.toContain(name);
});
