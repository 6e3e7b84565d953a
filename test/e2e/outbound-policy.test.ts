/**
 * Where the server may connect on a tenant admin's say-so. With no allowance from the operator,
 * webhooks and SMTP relays that lead to loopback, link-local or private addresses are refused,
 * however the address is written (127.1, 0x7f.1, [::1]) or hidden behind a name; with the
 * operator's TIMEBOX_OUTBOUND_ALLOW they are accepted and used. A failed delivery shows the
 * tenant a class of failure, never the bytes an internal service answered.
 */
import net from 'node:net';
import dns from 'node:dns';
import { hostname } from 'node:os';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ipaddr from 'ipaddr.js';
import { startReceiver } from '../notify/support.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import { startFakePostgres, startRecordingListener } from '../support/fake-endpoints.js';

const T = '/api/v1/tenants/default';
const runId = randomBytes(3).toString('hex');
const BANNER = `SSH-2.0-OpenSSH_9.2 internal-${runId}`;
let strict: TestServer;
let open: TestServer;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let bannerService: net.Server;
let bannerPort: number;

const hook = (s: TestServer, url: string) =>
  s.admin.post(`${T}/webhooks`, { name: `h-${randomBytes(3).toString('hex')}`, url, format: 'generic', events: ['approval_requested'] });
const webhookCount = async (s: TestServer) => ((await s.admin.get(`${T}/webhooks`)).body.items as unknown[]).length;

beforeAll(async () => {
  [strict, open, receiver] = await Promise.all([
    startTestServer({ env: { TIMEBOX_OUTBOUND_ALLOW: '' } }),
    startTestServer({ env: { TIMEBOX_OUTBOUND_ALLOW: 'loopback,private,link-local', TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true' } }),
    startReceiver(),
  ]);
  // An internal service that is not what the tenant said: it greets with its own banner.
  bannerService = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.write(`${BANNER}\r\n`);
    socket.on('data', () => socket.end(`${BANNER} protocol mismatch\r\n`));
  });
  bannerService.listen(0, '127.0.0.1');
  await once(bannerService, 'listening');
  bannerPort = (bannerService.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await strict?.close();
  await open?.close();
  await receiver?.close();
  bannerService?.close();
});

describe('webhooks', () => {
  const port = () => new URL(receiver.base).port;
  const cases = () => [
    [`http://127.1:${port()}/hook`, 'a loopback address (127.0.0.1)'],
    [`https://0x7f.1:${port()}/hook`, 'a loopback address (127.0.0.1)'],
    [`http://[::1]:${port()}/hook`, 'a loopback address (::1)'],
    ['http://169.254.169.254/latest/meta-data', 'a link-local address (169.254.169.254)'],
    ['http://10.0.0.1/hook', 'a private-network address (10.0.0.1)'],
    [`http://localhost:${port()}/hook`, 'a loopback address (localhost)'],
  ];

  it('are refused into loopback, link-local and private networks, however written, when the operator allows none', async () => {
    for (const [url, what] of cases()) {
      const res = await hook(strict, url!);
      expect(res.status, url).toBe(400);
      expect(res.body.error.message, url).toBe(`url must not point to ${what} unless the server operator allows it`);
    }
    expect(await webhookCount(strict)).toBe(0);
    // Each attempt is in the audit log, without the URL's path (it may hold a token).
    const refused = (await strict.admin.get(`${T}/audit?action=webhook.refused&limit=50`)).body.items as { reason: string; after: { url: string } }[];
    expect(refused).toHaveLength(cases().length);
    expect(refused.every((e) => e.reason === 'address not allowed' && !e.after.url.includes('meta-data'))).toBe(true);
  });

  it('resolve names at delivery: a name that leads to this host is not contacted', async () => {
    // The machine's own name resolves inside (loopback, or a private address in a container).
    const own = hostname();
    const { address } = await dns.promises.lookup(own);
    expect(ipaddr.process(address).range()).not.toBe('unicast');
    const saved = await hook(strict, `https://${own}:${port()}/hook`);
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    const before = receiver.requests.length;
    const sent = await strict.admin.post(`${T}/webhooks/${saved.body.webhook.id}/test`);
    expect(sent.body).toEqual({ delivered: false, status: null, error: `could not deliver to https://${own}:${port()}: address not allowed` });
    expect(receiver.requests.length).toBe(before);
  });

  it('are accepted, and delivered, when the operator allows those ranges', async () => {
    for (const [url] of cases()) expect((await hook(open, url!)).status, url).toBe(201);
    for (const url of [`http://127.1:${port()}/hook`, `http://localhost:${port()}/hook`]) {
      const saved = await hook(open, url);
      const sent = await open.admin.post(`${T}/webhooks/${saved.body.webhook.id}/test`);
      expect(sent.body, url).toEqual({ delivered: true, status: 200, error: null });
    }
  });

  it('show the tenant a failure class, never what an internal service answered', async () => {
    const saved = await hook(open, `http://127.0.0.1:${bannerPort}/hook`);
    const sent = await open.admin.post(`${T}/webhooks/${saved.body.webhook.id}/test`);
    expect(sent.body.delivered).toBe(false);
    expect(sent.body.error).toMatch(new RegExp(`^could not deliver to http://127.0.0.1:${bannerPort}: [a-zA-Z ]+$`));
    expect(sent.body.error).not.toContain('OpenSSH');
  });
});

describe('SMTP relay', () => {
  const settings = (host: string, port = 25) => ({ smtp: { host, port, from: 'timebox@example.test', requireTls: false } });

  it.each(['127.0.0.1', '127.1', '0x7f.1', 'localhost', '::1', '10.1.2.3', '169.254.169.254'])(
    'on %s is refused when the operator allows none, and nothing is saved',
    async (host) => {
      const res = await strict.admin.call('PUT', `${T}/settings/notifications`, settings(host));
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/^smtp\.host must not be a (loopback|private-network|link-local) address \(.+\) unless the server operator allows it$/);
      expect((await strict.admin.get(`${T}/settings/notifications`)).body.smtp).toBeNull();
    },
  );

  it('that leaks its banner: the outbox shows the tenant a failure class only', async () => {
    const saved = await open.admin.call('PUT', `${T}/settings/notifications`, settings('127.0.0.1', bannerPort));
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const target = await open.admin.post(`${T}/targets`, { name: 'fake', kind: 'fake', config: { instance: `outbound-${runId}`, entitlements: ['readers'] } });
    const carol = await addOperator(open, `carol.${runId}@example.test`, ['approver']);
    const alice = await addOperator(open, `alice.${runId}@example.test`, ['requester']);
    const carolId = (await carol.get('/api/v1/me')).body.operator.id;
    const policy = await open.admin.post(`${T}/policies`, {
      name: 'needs carol',
      targetId: target.body.target.id,
      requesterRoles: ['requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 600,
      rules: { approvalLevels: [{ approverIds: [carolId] }] },
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    const asked = await alice.post(`${T}/requests`, { targetId: target.body.target.id, entitlements: ['readers'], durationSeconds: 600, reason: 'looking at the orders table' });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    await open.tb.dispatcher.drain();

    const outbox = (await open.admin.get(`${T}/notifications`)).body.items as Array<{ recipient: string; lastError: string | null }>;
    const toCarol = outbox.find((n) => n.recipient === `carol.${runId}@example.test`);
    expect(toCarol?.lastError).toBe(`SMTP 127.0.0.1:${bannerPort}: protocol error`);
    expect(JSON.stringify(outbox)).not.toContain('OpenSSH');
  });
});

describe('target connection tests', () => {
  it('do not connect to a PostgreSQL or MariaDB server or a DC at a refused address, however written (a literal address included)', async () => {
    const pgEndpoint = await startFakePostgres('cleartext');
    const dc = await startRecordingListener();
    try {
      // A literal address is never looked up by Node: it must be checked as well as a name.
      for (const [i, host] of ['127.1', '127.0.0.1', '::ffff:127.0.0.1'].entries()) {
        const pgTarget = await strict.admin.post(`${T}/targets`, {
          name: `pg-${runId}-${i}`,
          kind: 'postgres',
          config: { host, port: pgEndpoint.port, user: 'timebox_svc', password: 'service-password-1' },
          saveUnchecked: true,
        });
        expect(pgTarget.status, JSON.stringify(pgTarget.body)).toBe(201);
        expect(pgTarget.body.check.ok).toBe(false);
        expect(JSON.stringify(pgTarget.body.check.items)).toMatch(/is a loopback address, which this server does not connect to unless its operator allows it \(TIMEBOX_OUTBOUND_ALLOW\)/);
      }
      const mariadb = await strict.admin.post(`${T}/targets`, {
        name: `maria-${runId}`,
        kind: 'mariadb',
        config: { host: '127.0.0.1', port: pgEndpoint.port, user: 'timebox_svc', password: 'service-password-1', ssl: 'disable' },
        saveUnchecked: true,
      });
      expect(mariadb.status, JSON.stringify(mariadb.body)).toBe(201);
      expect(mariadb.body.check.ok).toBe(false);
      expect(JSON.stringify(mariadb.body.check.items)).toMatch(/127\.0\.0\.1 is a loopback address/);

      const adTarget = await strict.admin.post(`${T}/targets`, {
        name: `dc-${runId}`,
        kind: 'active-directory-groups',
        config: {
          url: `ldaps://0x7f.1:${dc.port}`,
          bindDn: 'svc@example.test',
          bindPassword: 'bind-password-1',
          caPem: '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n',
          baseDn: 'DC=example,DC=test',
        },
        saveUnchecked: true,
      });
      expect(adTarget.status, JSON.stringify(adTarget.body)).toBe(201);
      expect(adTarget.body.check.ok).toBe(false);
      expect(JSON.stringify(adTarget.body.check.items)).toMatch(/0x7f\.1 \(127\.0\.0\.1\) is a loopback address/);

      expect(pgEndpoint.connections).toBe(0);
      expect(dc.connections).toBe(0);
    } finally {
      await pgEndpoint.close();
      await dc.close();
    }
  });
});
