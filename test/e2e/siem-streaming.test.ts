/**
 * SIEM streaming against real receivers: rsyslog over TLS (octet-counted RFC 5424) and an HTTP
 * collector speaking Splunk HEC's shape. Both get every sealed event exactly as
 * `GET …/audit/export` shows it; both are taken down in the middle of a run of lifecycles, which
 * go on unhindered (every revocation completes while the sinks are down), and both catch up
 * afterwards with nothing missing. Receivers may see an event twice (at least once) and dedupe on
 * its id: a duplicate must be identical.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { exportAuditEvents } from '../../src/audit/audit-query.js';
import { createOutboundPolicy } from '../../src/net/outbound-policy.js';
import { httpSink } from '../../src/siem/http-sink.js';
import { syslogSink } from '../../src/siem/syslog-sink.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { startRsyslog, type Rsyslog } from '../harness/rsyslog.js';
import type { ApiClient } from '../support/http.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';

const PER_PHASE = 60;
const PEOPLE = 4;
const BATCH = 50;
const TOKEN = 'hec-token-' + randomUUID();
const METRICS_TOKEN = 'metrics-' + randomUUID();
const T = '/api/v1/tenants/default';

/** An HTTP collector: records every request; "down" means nothing listens on its port. */
function startCollector(shape: 'splunk' | 'json' = 'splunk') {
  const requests: { authorization: string | undefined; body: string; events: Record<string, unknown>[] }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      // HEC's batch shape: event objects one after another; the generic one: a JSON array.
      const events =
        shape === 'json'
          ? (JSON.parse(body) as Record<string, unknown>[])
          : body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
      requests.push({ authorization: req.headers.authorization, body, events });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
    });
  });
  let port = 0;
  return {
    requests,
    get port() {
      return port;
    },
    async start() {
      // A port taken meanwhile fails the start rather than leaving it pending.
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      port = (server.address() as { port: number }).port;
    },
    async stop() {
      const closed = new Promise((r) => server.close(r));
      server.closeAllConnections();
      await closed;
    },
  };
}

let database: TestDatabase;
let rsyslog: Rsyslog;
const collector = startCollector();
let server: TestServer;
let targetId = '';
const people: ApiClient[] = [];

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  rsyslog = await startRsyslog();
  await collector.start();
  server = await startTestServer({
    databaseUrl: database.url,
    env: {
      TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true',
      TIMEBOX_AUDIT_SEAL_MS: '100',
      TIMEBOX_SIEM_SYSLOG: `tls://${rsyslog.host}:${rsyslog.port}`,
      TIMEBOX_SIEM_SYSLOG_CA: rsyslog.caFile,
      TIMEBOX_SIEM_HTTP: `http://127.0.0.1:${collector.port}/services/collector/event`,
      TIMEBOX_SIEM_HTTP_FORMAT: 'splunk',
      TIMEBOX_SIEM_HTTP_TOKEN: TOKEN,
      TIMEBOX_SIEM_BATCH: String(BATCH),
      TIMEBOX_SIEM_POLL_MS: '100',
      TIMEBOX_SIEM_RETRY_BASE_MS: '100',
      TIMEBOX_SIEM_RETRY_MAX_MS: '1000',
      TIMEBOX_METRICS_TOKEN: METRICS_TOKEN,
    },
  });
  const target = await server.admin.post(`${T}/targets`, {
    name: 'orders',
    kind: 'fake',
    config: { instance: `siem-${randomUUID()}`, entitlements: ['readers', 'writers'] },
  });
  expect(target.status).toBe(201);
  targetId = target.body.target.id;
  const policy = await server.admin.post(`${T}/policies`, {
    name: 'orders access',
    targetId,
    requesterRoles: ['requester'],
    maxDurationSeconds: 3600,
    defaultDurationSeconds: 600,
  });
  expect(policy.status).toBe(201);
  for (let i = 0; i < PEOPLE; i++) people.push(await addOperator(server, `siem${i}.${randomUUID().slice(0, 6)}@example.com`, ['requester']));
}, 120_000);

afterAll(async () => {
  await server?.close();
  await collector.stop().catch(() => {});
  await rsyslog?.destroy();
  await database?.drop();
});

/** `count` lifecycles (request → active → revoke → revoked) by PEOPLE at once; each one's ms. */
async function lifecycles(count: number): Promise<number[]> {
  const took: number[] = [];
  let next = 0;
  await Promise.all(
    people.map(async (person) => {
      while (next++ < count) {
        const t0 = performance.now();
        const req = await person.post(`${T}/requests`, { targetId, entitlements: ['readers'], durationSeconds: 600, reason: 'SIEM streaming run' });
        expect(req.status, JSON.stringify(req.body)).toBe(201);
        expect(req.body.state).toBe('active');
        const rev = await person.post(`${T}/grants/${req.body.id}/revoke`, { reason: 'done' });
        expect(rev.status, JSON.stringify(rev.body)).toBe(200);
        expect(rev.body.state).toBe('revoked');
        took.push(performance.now() - t0);
      }
    }),
  );
  return took;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Polls `check`; gives up after `ms` (by the clock: a slow check must not stretch it past the test's limit). */
const until = async (what: string | (() => string), check: () => Promise<boolean> | boolean, ms = 60_000) => {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};
/** The SIEM backlog per sink, as a Prometheus scrape of /metrics shows it. */
async function scrapedBacklog(): Promise<Record<string, number>> {
  const res = await fetch(new URL('/metrics', server.url), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  const out: Record<string, number> = {};
  for (const m of (await res.text()).matchAll(/^timebox_siem_backlog\{sink="([^"]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}
const sinkStats = (name: string) => server.tb.siem.stats().find((s) => s.sink === name)!;

/** Every sealed event as exported: the tenant's export over HTTP, plus the platform chain's lines. */
async function exportedLines(): Promise<Map<string, string>> {
  const res = await server.admin.get<string>(`${T}/audit/export`);
  expect(res.status).toBe(200);
  const lines = String(res.body).split('\n').filter((l) => l !== '' && !l.startsWith('{"checkpoint"'));
  const platform: string[] = [];
  await exportAuditEvents(server.tb.store.db, {}, (l) => {
    if (!l.startsWith('{"checkpoint"') && (JSON.parse(l) as { tenant_id: string | null }).tenant_id === null) platform.push(l);
  });
  const out = new Map<string, string>();
  for (const l of [...lines, ...platform]) {
    const r = JSON.parse(l) as { id: string; sealed: boolean };
    if (r.sealed) out.set(r.id, l);
  }
  return out;
}

/** rsyslog's raw messages: RFC 5424 header, then the MSG (an export line). */
async function syslogReceived(): Promise<{ id: string; line: string; header: string }[]> {
  return (await rsyslog.messages()).map((m) => {
    const match = /^(<110>1 \S+ \S+ timebox - \S+ - )(.*)$/.exec(m);
    if (!match) throw new Error(`not an RFC 5424 message from Timebox: ${m.slice(0, 200)}`);
    return { header: match[1]!, line: match[2]!, id: (JSON.parse(match[2]!) as { id: string }).id };
  });
}

/** Whether rsyslog and the collector hold every event sealed so far (sealing what is sealable first). */
let sealedSoFar = new Map<string, string>();
let missing = '';
async function receiversHoldEverySealedEvent(): Promise<boolean> {
  await server.tb.audit.sealer.sealNow();
  const expected = (sealedSoFar = await exportedLines());
  const viaSyslog = new Set((await syslogReceived()).map((m) => m.id));
  const viaHttp = new Set(collector.requests.flatMap((r) => r.events.map((e) => (e.event as { id: string }).id)));
  const ids = [...expected.keys()];
  missing = `of ${ids.length} sealed events, rsyslog lacks ${ids.filter((id) => !viaSyslog.has(id)).length} and the collector ${ids.filter((id) => !viaHttp.has(id)).length}`;
  return ids.every((id) => viaSyslog.has(id) && viaHttp.has(id));
}
const everySealedEvent = (when: string) => () => `both receivers to hold every sealed event ${when} (${missing})`;

describe('SIEM streaming to rsyslog over TLS and a Splunk-HEC-shaped collector', () => {
  it('delivers every sealed event as exported, through an outage of both sinks, without delaying grants', async () => {
    const up = await lifecycles(PER_PHASE);
    // The outage starts between deliveries: rsyslog told to stop while a batch arrives can still
    // read it and close the connection cleanly, yet drop it. Syslog has no acknowledgement beyond
    // that close, so the sink counts the batch delivered and nothing could catch it up.
    await until(everySealedEvent('before the outage'), receiversHoldEverySealedEvent);

    // Outage: rsyslog stopped, nothing listening on the collector's port.
    await rsyslog.stop();
    await collector.stop();
    const failuresBefore = { syslog: sinkStats('syslog').failures, http: sinkStats('http').failures };
    const down = await lifecycles(PER_PHASE);
    await server.tb.audit.sealer.sealNow();
    // Both sinks tried and failed more than once (backing off) while every revocation above completed.
    await until('both sinks to fail twice', () => sinkStats('syslog').failures >= failuresBefore.syslog + 2 && sinkStats('http').failures >= failuresBefore.http + 2);
    const backlog = await server.tb.siem.backlog();
    expect(backlog.syslog).toBeGreaterThanOrEqual(PER_PHASE * 2);
    expect(backlog.http).toBeGreaterThanOrEqual(PER_PHASE * 2);
    // The same backlog is what a scraper sees (an alert on it tells of a collector down).
    const scraped = await scrapedBacklog();
    expect(scraped.syslog).toBeGreaterThanOrEqual(PER_PHASE * 2);
    expect(scraped.http).toBeGreaterThanOrEqual(PER_PHASE * 2);

    await rsyslog.start();
    await collector.start();
    const after = await lifecycles(PER_PHASE);
    // Every event of the run sealed before the receivers are compared: sealing waits for the
    // cluster's oldest transaction, which another test's database on it can hold open for a
    // while; events sealed only after the comparison would show as a backlog at the end.
    await until('every event of the run to be sealed', async () => {
      await server.tb.audit.sealer.sealNow();
      const { n } = await server.tb.store.db.selectFrom('audit_events').select((eb) => eb.fn.countAll<string>().as('n')).where('hash', 'is', null).executeTakeFirstOrThrow();
      return Number(n) === 0;
    });

    await until(everySealedEvent('after the outage'), receiversHoldEverySealedEvent);
    const expected = sealedSoFar;
    // Shut rsyslog down cleanly so everything it accepted is in its file.
    await rsyslog.stop();

    // Lifecycles: 3 × PER_PHASE requests, activations and revocations → at least that many events each.
    expect(expected.size).toBeGreaterThan(PER_PHASE * 3 * 3);

    // rsyslog: the MSG of every message is an export line, byte for byte; nothing unknown; duplicates identical.
    const viaSyslog = await syslogReceived();
    for (const m of viaSyslog) {
      expect(expected.get(m.id), `syslog event ${m.id}`).toBe(m.line);
    }
    expect(new Set(viaSyslog.map((m) => m.id))).toEqual(new Set(expected.keys()));

    // HTTP: HEC shape, the token, bounded batches, `event` equal to the exported record.
    for (const r of collector.requests) {
      expect(r.authorization).toBe(`Splunk ${TOKEN}`);
      expect(r.events.length).toBeGreaterThan(0);
      expect(r.events.length).toBeLessThanOrEqual(BATCH);
      for (const e of r.events) {
        expect(Object.keys(e).sort()).toEqual(['event', 'source', 'sourcetype', 'time']);
        const record = e.event as { id: string; at: string };
        expect(expected.has(record.id), `http event ${record.id}`).toBe(true);
        expect(record).toEqual(JSON.parse(expected.get(record.id)!));
        expect(e.time).toBe(Date.parse(record.at) / 1000);
        expect(e.sourcetype).toBe('timebox:audit');
      }
    }
    const viaHttp = collector.requests.flatMap((r) => r.events.map((e) => (e.event as { id: string }).id));
    expect(new Set(viaHttp)).toEqual(new Set(expected.keys()));
    expect(collector.requests.length).toBeGreaterThan(1);

    // Nothing left behind; the figures of the run for the record.
    await until('backlogs to drain', async () => {
      const b = await server.tb.siem.backlog();
      return b.syslog === 0 && b.http === 0;
    });
    expect(await scrapedBacklog()).toEqual({ syslog: 0, http: 0 });
    console.log(
      `SIEM run: ${expected.size} sealed events; lifecycle median ms up ${median(up).toFixed(0)}, sinks down ${median(down).toFixed(0)}, after ${median(after).toFixed(0)}; ` +
        `duplicates syslog ${viaSyslog.length - new Set(viaSyslog.map((m) => m.id)).size}, http ${viaHttp.length - new Set(viaHttp).size}; ` +
        `failures ${JSON.stringify(server.tb.siem.stats().map((s) => [s.sink, s.failures]))}`,
    );
  }, 180_000);
});

describe('generic JSON collector on the embedded store', () => {
  const json = startCollector('json');
  let embedded: TestServer;

  beforeAll(async () => {
    await json.start();
    embedded = await startTestServer({
      env: {
        TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true',
        TIMEBOX_AUDIT_SEAL_MS: '100',
        TIMEBOX_SIEM_HTTP: `http://localhost:${json.port}/ingest`,
        TIMEBOX_SIEM_HTTP_TOKEN: TOKEN,
        TIMEBOX_SIEM_POLL_MS: '100',
      },
    });
  }, 60_000);

  afterAll(async () => {
    await embedded?.close();
    await json.stop().catch(() => {});
  });

  it('posts JSON arrays whose items are the export lines, byte for byte', async () => {
    const target = await embedded.admin.post(`${T}/targets`, { name: 'ledger', kind: 'fake', config: { instance: `siem-${randomUUID()}`, entitlements: ['readers'] } });
    expect(target.status).toBe(201);
    const res = await embedded.admin.get<string>(`${T}/audit/export`);
    const lines = String(res.body).split('\n').filter((l) => l.startsWith('{"seq"'));
    await embedded.tb.audit.sealer.sealNow();
    let exported = new Map<string, string>();
    await until('the collector to hold every sealed event', async () => {
      exported = new Map();
      await exportAuditEvents(embedded.tb.store.db, {}, (l) => {
        const r = JSON.parse(l) as { id?: string; sealed?: boolean };
        if (r.id && r.sealed) exported.set(r.id, l);
      });
      const got = new Set(json.requests.flatMap((r) => r.events.map((e) => e.id as string)));
      return exported.size > 0 && [...exported.keys()].every((id) => got.has(id));
    }, 45_000);
    expect(lines.length).toBeGreaterThan(0);
    for (const r of json.requests) {
      expect(r.authorization).toBe(`Bearer ${TOKEN}`);
      // The body is the export lines joined into an array: no second serialisation.
      const items = r.events.map((e) => exported.get(e.id as string));
      expect(r.body).toBe(`[${items.join(',')}]`);
    }
  }, 60_000);

  it('refuses collectors the outbound policy does not allow, sending nothing', async () => {
    const before = json.requests.length;
    const strict = createOutboundPolicy({ allow: '' });
    const event = { id: randomUUID(), at: new Date().toISOString(), action: 'test.event', line: '{}' };
    // Names and literals alike (net and tls skip `lookup` for a literal).
    for (const host of ['localhost', '127.0.0.1', '[::ffff:127.0.0.1]']) {
      const url = new URL(`http://${host}:${json.port}/ingest`);
      // The operator's log names the setting that decides it.
      await expect(httpSink({ url, format: 'json', policy: strict }).send([event])).rejects.toThrow(
        'collector unreachable (address not allowed): the outbound address policy refuses it (TIMEBOX_OUTBOUND_ALLOW)',
      );
      const bare = url.hostname.replace(/^\[(.*)\]$/, '$1');
      await expect(syslogSink({ host: bare, port: json.port, hostname: 'h', policy: strict }).send([event])).rejects.toThrow(
        'syslog delivery failed (address not allowed): the outbound address policy refuses it (TIMEBOX_OUTBOUND_ALLOW)',
      );
    }
    expect(json.requests.length).toBe(before);
  });
});
