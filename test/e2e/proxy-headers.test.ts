/**
 * Behind a reverse proxy that appends the peer's address to X-Forwarded-For (as nginx's
 * $proxy_add_x_forwarded_for does), a client that writes its own X-Forwarded-For can neither
 * escape the sign-in rate limit nor put a forged address in the audit log; cookies are Secure
 * when the proxy says the request came over HTTPS, and not when a client merely claims so.
 */
import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_ATTEMPTS_PER_MINUTE } from '../../src/http/routes/auth-routes.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/** The real client's address: loopback, but not the proxy's 127.0.0.1. */
const CLIENT = '127.0.0.2';

interface Answer {
  status: number;
  body: any;
  cookies: string[];
  hsts: string | undefined;
}

/** One HTTP request from a chosen local address, with any headers the client likes to write. */
function send(url: string, path: string, body: unknown, headers: Record<string, string> = {}, localAddress = CLIENT): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = httpRequest(new URL(path, url), { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const setCookie = res.headers['set-cookie'] ?? [];
        const hsts = res.headers['strict-transport-security'];
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null, cookies: setCookie, hsts: typeof hsts === 'string' ? hsts : undefined });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** An appending reverse proxy that terminates "HTTPS" (it says so in X-Forwarded-Proto). */
async function appendingProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  const server: Server = createServer((req, res) => {
    const prior = req.headers['x-forwarded-for'];
    const forwardedFor = prior ? `${prior}, ${req.socket.remoteAddress}` : String(req.socket.remoteAddress);
    const up = httpRequest(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, localAddress: '127.0.0.1', headers: { ...req.headers, 'x-forwarded-for': forwardedFor, 'x-forwarded-proto': 'https' } },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function failedLoginIps(s: TestServer): Promise<string[]> {
  const rows = await s.tb.store.db.selectFrom('audit_events').select('after').where('action', '=', 'auth.login_failed').execute();
  return rows.map((r) => String((r.after as { ip?: unknown } | null)?.ip));
}

describe.each([
  ['a hop count', '1'],
  ['the proxy address', '127.0.0.1'],
])('TIMEBOX_TRUST_PROXY as %s', (_label, setting) => {
  let server: TestServer;
  let proxy: Awaited<ReturnType<typeof appendingProxy>>;

  beforeAll(async () => {
    server = await startTestServer({ env: { TIMEBOX_TRUST_PROXY: setting } });
    proxy = await appendingProxy(server.url);
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
  });

  it('a forged left-most X-Forwarded-For neither escapes the sign-in limit nor reaches the audit log', async () => {
    const email = server.tb.bootstrap!.email;
    for (let i = 0; i < LOGIN_ATTEMPTS_PER_MINUTE; i++) {
      const r = await send(proxy.url, '/api/v1/auth/login', { email, password: `wrong-${i}` }, { 'x-forwarded-for': `203.0.113.${i + 1}` });
      expect(r.status, `attempt ${i + 1}`).toBe(401);
    }
    const blocked = await send(proxy.url, '/api/v1/auth/login', { email, password: server.tb.bootstrap!.password }, { 'x-forwarded-for': '198.51.100.77' });
    expect(blocked.status).toBe(429);
    const ips = await failedLoginIps(server);
    expect(ips).toHaveLength(LOGIN_ATTEMPTS_PER_MINUTE);
    expect(new Set(ips)).toEqual(new Set([CLIENT]));
  });

  it('the session cookie is Secure, and the browser told to keep to HTTPS, when the proxy forwards an HTTPS request', async () => {
    const { email, password } = server.tb.bootstrap!;
    // Another client address: the limit above is per address and account.
    const r = await send(proxy.url, '/api/v1/auth/login', { email, password }, {}, '127.0.0.4');
    expect(r.status).toBe(200);
    // __Host- names over HTTPS: no sibling host can set them (see cookieName in auth-hook.ts).
    const session = r.cookies.find((c) => c.startsWith('__Host-timebox_session='));
    expect(session).toMatch(/; Secure/);
    expect(session).toMatch(/; Path=\/(;|$)/);
    expect(session).not.toMatch(/Domain=/i);
    expect(r.cookies.find((c) => c.startsWith('__Host-timebox_csrf='))).toMatch(/; Secure/);
    expect(r.cookies.some((c) => c.startsWith('timebox_session='))).toBe(false);
    expect(r.hsts).toBe('max-age=31536000');
    // A plain-named session cookie, as a sibling host would plant with Domain=, is not read over HTTPS.
    const token = /^__Host-timebox_session=([^;]+)/.exec(session!)![1]!;
    const me = (cookie: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(new URL('/api/v1/me', proxy.url), { method: 'GET', localAddress: '127.0.0.4', headers: { cookie } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await me(`__Host-timebox_session=${token}`)).toBe(200);
    expect(await me(`timebox_session=${token}`)).toBe(401);
  });
});

describe('a client that talks to Timebox directly, past the proxies', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { TIMEBOX_TRUST_PROXY: '127.0.0.1' } });
  });
  afterAll(async () => server?.close());

  it('is not believed: its own X-Forwarded-For and X-Forwarded-Proto count for nothing', async () => {
    const { email, password } = server.tb.bootstrap!;
    const wrong = await send(server.url, '/api/v1/auth/login', { email, password: 'wrong' }, { 'x-forwarded-for': '203.0.113.9' }, '127.0.0.3');
    expect(wrong.status).toBe(401);
    expect(await failedLoginIps(server)).toEqual(['127.0.0.3']);
    const ok = await send(server.url, '/api/v1/auth/login', { email, password }, { 'x-forwarded-proto': 'https' }, '127.0.0.3');
    expect(ok.status).toBe(200);
    // Plain HTTP really: a Secure cookie would never come back to this client, and HSTS means nothing here.
    expect(ok.cookies.find((c) => c.startsWith('timebox_session='))).not.toMatch(/Secure/);
    expect(ok.hsts).toBeUndefined();
  });

  it('TIMEBOX_SECURE_COOKIES=true still forces Secure cookies', async () => {
    const forced = await startTestServer({ env: { TIMEBOX_SECURE_COOKIES: 'true' } });
    try {
      const { email, password } = forced.tb.bootstrap!;
      const r = await send(forced.url, '/api/v1/auth/login', { email, password }, {}, '127.0.0.1');
      expect(r.cookies.find((c) => c.startsWith('__Host-timebox_session='))).toMatch(/; Secure/);
    } finally {
      await forced.close();
    }
  });
});
