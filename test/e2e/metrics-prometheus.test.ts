/**
 * A real Prometheus scrapes /metrics of a running server with the bearer token. Two grants end on
 * a target that refuses every revocation, so they stay past their end and unrevoked: the PromQL
 * query for timebox_overdue_revocations returns the number the grants list shows with
 * `overdue=true`. A scrape job with a wrong token is refused (401), and a server without the
 * token setting has no /metrics at all (404). The alert rules documented in docs/metrics.md are
 * loaded as they are written, and the overdue and revoke_failed alerts go pending.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { startPrometheus, type PrometheusServer } from '../harness/prometheus.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
const token = randomBytes(24).toString('hex');
let server: TestServer;
let plain: TestServer;
let prometheus: PrometheusServer;

const hostPort = (url: string) => new URL(url).host;
const scrape = (url: string, authorization?: string) =>
  fetch(new URL('/metrics', url), { headers: authorization ? { authorization } : {} });

/** The first sample of `promql` from a scrape made after `afterMs` (wall clock): awaits the next scrape. */
async function sampleAfter(promql: string, afterMs: number) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await prometheus.query(`${promql} and timestamp(${promql}) > ${afterMs / 1000}`);
    if (result.length > 0) return result;
    if (Date.now() > deadline) throw new Error(`no sample of ${promql} after ${new Date(afterMs).toISOString()}; targets: ${JSON.stringify(await prometheus.targets())}\n${prometheus.log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The alert rules exactly as docs/metrics.md gives them (its second YAML block). */
async function documentedRules(): Promise<string> {
  const doc = await readFile(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const rules = blocks.find((b) => b.startsWith('groups:'));
  if (!rules) throw new Error('docs/metrics.md has no rule block');
  return rules;
}

/** Waits for the named alert of the documented rules to be pending or firing. */
async function alertRaised(name: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = (await prometheus.alerts()).find((a) => a.name === name);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`alert ${name} was not raised; ${JSON.stringify(await prometheus.alerts())}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  [server, plain] = await Promise.all([
    startTestServer({ env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true', TIMEBOX_METRICS_TOKEN: token } }),
    startTestServer(),
  ]);
  prometheus = await startPrometheus([
    { name: 'timebox', target: hostPort(server.url), bearerToken: token },
    { name: 'wrong-token', target: hostPort(server.url), bearerToken: 'x'.repeat(48) },
    { name: 'metrics-off', target: hostPort(plain.url), bearerToken: token },
  ], { rules: await documentedRules() });
});

afterAll(async () => {
  await prometheus?.stop();
  await Promise.all([server?.close(), plain?.close()]);
});

describe('/metrics scraped by Prometheus', () => {
  it('the overdue-revocations gauge in PromQL equals what the grants list shows', async () => {
    const addTarget = async (name: string, config: Record<string, unknown>) => {
      const t = await server.admin.post(`${T}/targets`, {
        name,
        kind: 'fake',
        config: { instance: `${name}-${randomBytes(4).toString('hex')}`, entitlements: ['readers'], ...config },
      });
      expect(t.status, JSON.stringify(t.body)).toBe(201);
      return t.body.target.id as string;
    };
    const broken = await addTarget('refuses-revoke', { failRevoke: 'permanent' });
    const healthy = await addTarget('healthy', {});
    const policy = await server.admin.post(`${T}/policies`, { name: 'all', requesterRoles: ['owner'], maxDurationSeconds: 7200, defaultDurationSeconds: 600 });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    const ask = async (targetId: string, durationSeconds: number) => {
      const r = await server.admin.post(`${T}/requests`, { targetId, entitlements: ['readers'], durationSeconds, reason: 'metrics check' });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.state).toBe('active');
      return r.body.id as string;
    };
    // Two grants that will end on the target that refuses revocation, one that runs on.
    await ask(broken, 600);
    await ask(broken, 600);
    await ask(healthy, 7200);

    const overdueInApi = async () => {
      const res = await server.admin.get(`${T}/grants?overdue=true&limit=100`);
      expect(res.status).toBe(200);
      return (res.body.items as Array<{ state: string }>).length;
    };
    expect(await overdueInApi()).toBe(0);

    // Past the end: the scheduler tries, the target refuses, the grants stay unrevoked.
    server.clock.shift(601_000);
    server.tb.scheduler.poke();
    const shown = await overdueInApi();
    expect(shown).toBe(2);
    const afterShown = Date.now();

    const [sample] = await sampleAfter('timebox_overdue_revocations{job="timebox"}', afterShown);
    expect(sample!.value).toBe(shown);

    // The same scrape carries the grants by state and the route-pattern latency histogram.
    const live = await prometheus.query('sum(timebox_grants{job="timebox",state=~"active|revoking|revoke_failed"})');
    expect(live[0]!.value).toBe(3);
    const routes = await prometheus.query('count by (route) (timebox_http_request_duration_seconds_count{job="timebox"})');
    const names = routes.map((r) => r.metric.route);
    expect(names).toContain('/api/v1/tenants/:tenant/grants');
    expect(names.some((n) => n?.includes('/default/'))).toBe(false);
    expect(await prometheus.query('process_resident_memory_bytes{job="timebox"}')).toHaveLength(1);

    // The documented rules see it: the grants are overdue, and the permanent failure put them in revoke_failed.
    expect((await alertRaised('TimeboxOverdueRevocations')).value).toBe(shown);
    expect((await alertRaised('TimeboxRevokeFailed')).value).toBe(2);
    const failures = await prometheus.query('sum(timebox_revoke_failures_total{job="timebox",target_kind="fake"})');
    expect(failures[0]!.value).toBeGreaterThanOrEqual(2);
  });

  it('is refused without the right token, and absent without the setting', async () => {
    const missing = await scrape(server.url);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await scrape(server.url, 'Bearer wrong-token-of-some-length')).status).toBe(401);
    expect((await scrape(server.url, token)).status).toBe(401);
    // A path refused before routing (its %-escape is no text) is counted too, under no route.
    const count400 = (text: string) => Number(/^timebox_http_request_duration_seconds_count\{method="GET",route="unmatched",status_class="4xx"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    const before = count400(await (await scrape(server.url, `Bearer ${token}`)).text());
    expect((await fetch(new URL('/api/v1/tenants/%ED%A0%80/grants', server.url))).status).toBe(400);
    const ok = await scrape(server.url, `Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await ok.text();
    expect(text).toMatch(/^timebox_overdue_revocations \d+$/m);
    expect(count400(text)).toBe(before + 1);

    expect((await scrape(plain.url, `Bearer ${token}`)).status).toBe(404);

    // Prometheus itself: the right token scrapes, the wrong one and the disabled endpoint do not.
    const since = Date.now();
    // Each job scrapes on its own schedule: wait for a scrape of both refused ones.
    await sampleAfter('up{job="wrong-token"}', since);
    await sampleAfter('up{job="metrics-off"}', since);
    const health = Object.fromEntries((await prometheus.targets()).map((t) => [t.job, t]));
    expect(health['timebox']!.health).toBe('up');
    expect(health['wrong-token']!.health).toBe('down');
    expect(health['wrong-token']!.lastError).toMatch(/401/);
    expect(health['metrics-off']!.health).toBe('down');
    expect(health['metrics-off']!.lastError).toMatch(/404/);
  });
});
