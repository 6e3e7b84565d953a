/**
 * Bad input gets a clear 4xx and loses nothing: malformed JSON, wrong types, oversized fields,
 * hostile names, unknown tenants and targets, durations over the policy maximum. Another
 * tenant's operator sees nothing of this tenant.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { preparePgTarget, type PgTarget } from '../support/pg-target.js';
import { addOperator, createMember, startTestServer, type TestServer } from '../support/test-server.js';
import { apiClient, type ApiClient } from '../support/http.js';

let server: TestServer;
let target: PgTarget;
let alice: ApiClient;
let targetId: string;
const aliceEmail = `alice.${randomBytes(3).toString('hex')}@example.com`;
const T = '/api/v1/tenants/default';

async function counts() {
  const db = server.tb.store.db;
  const n = async (table: 'grants' | 'jit_accounts' | 'access_requests') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { grants: await n('grants'), accounts: await n('jit_accounts'), requests: await n('access_requests') };
}

/** JIT roles of this file's requester (roles are cluster-wide; other files share the cluster). */
async function rolesOnTarget(): Promise<string[]> {
  const c = new pg.Client({ connectionString: target.db.url });
  await c.connect();
  try {
    const r = await c.query(
      `select rolname from pg_roles where shobj_description(oid, 'pg_authid') like 'Timebox JIT account%' and shobj_description(oid, 'pg_authid') like '%' || $1 || '%'`,
      [aliceEmail],
    );
    return r.rows.map((x) => x.rolname);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  server = await startTestServer();
  target = await preparePgTarget(inject('pgAdminUrl'));
  const added = await server.admin.post(`${T}/targets`, { name: 'db', kind: 'postgres', config: target.config });
  targetId = added.body.target.id;
  await server.admin.post(`${T}/policies`, {
    name: 'short', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600,
  });
  alice = await addOperator(server, aliceEmail, ['requester']);
});
afterAll(async () => {
  await server?.close();
  await target?.drop();
});

const good = () => ({ targetId, entitlements: [target.readers], durationSeconds: 600, reason: 'INC-1 routine check' });

describe('bad input to a request', () => {
  const cases: Array<[string, () => Promise<{ status: number; body: any }>, number, RegExp]> = [
    ['malformed JSON', () => alice.call('POST', `${T}/requests`, undefined, '{"targetId": '), 400, /not valid JSON/],
    ['a duration as text', () => alice.post(`${T}/requests`, { ...good(), durationSeconds: '2h' }), 400, /^Duration must be a number of seconds\./],
    ['a negative duration', () => alice.post(`${T}/requests`, { ...good(), durationSeconds: -5 }), 400, /^Duration must be at least 10 seconds\./],
    ['entitlements not a list', () => alice.post(`${T}/requests`, { ...good(), entitlements: 'readers' }), 400, /^Entitlements must be a list, not text\./],
    ['an unknown field', () => alice.post(`${T}/requests`, { ...good(), admin: true }), 400, /admin/],
    ['an oversized reason', () => alice.post(`${T}/requests`, { ...good(), reason: 'x'.repeat(5000) }), 400, /^Reason must be at most 1000 characters\./],
    ['a NUL in the reason', () => alice.post(`${T}/requests`, { ...good(), reason: 'fix\u0000it please' }), 400, /control characters/],
    ['a body over 256 KiB', () => alice.post(`${T}/requests`, { ...good(), reason: 'y'.repeat(300 * 1024) }), 413, /larger than 256 KiB/],
    ['a name with a quote', () => alice.post(`${T}/requests`, { ...good(), accountName: "bob'x_jit" }), 400, /lowercase letters, digits and underscores/],
    ['a name with a semicolon', () => alice.post(`${T}/requests`, { ...good(), accountName: 'a;drop role x' }), 400, /lowercase letters, digits and underscores/],
    ['a non-ASCII name', () => alice.post(`${T}/requests`, { ...good(), accountName: 'bøb_jit' }), 400, /lowercase letters, digits and underscores/],
    ['an entitlement with a quote', () => alice.post(`${T}/requests`, { ...good(), entitlements: ['x"; drop'] }), 400, /Role names may only contain/],
    ['an entitlement the target lacks', () => alice.post(`${T}/requests`, { ...good(), entitlements: ['no_such_role'] }), 400, /has no entitlement named "no_such_role"/],
    ['a target id that is not an id', () => alice.post(`${T}/requests`, { ...good(), targetId: 'db' }), 400, /^Target ID must be an id/],
    ['an unknown target', () => alice.post(`${T}/requests`, { ...good(), targetId: '00000000-0000-4000-8000-000000000000' }), 404, /target .* not found/],
    ['an unknown tenant', () => alice.post('/api/v1/tenants/nope/requests', good()), 404, /tenant nope not found/],
    ['a duration over the policy maximum', () => alice.post(`${T}/requests`, { ...good(), durationSeconds: 7200 }), 422, /2h is longer than policy "short" allows \(1h\)/],
    ['a reason that is too short', () => alice.post(`${T}/requests`, { ...good(), reason: 'x' }), 422, /reason of at least 10 characters/],
    ['a start in the past', () => alice.post(`${T}/requests`, { ...good(), startAt: '2001-01-01T00:00:00Z' }), 400, /start time is in the past/],
  ];

  it.each(cases)('%s: a clear 4xx and nothing created', async (_name, send, status, message) => {
    const before = await counts();
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.error.message).toMatch(message);
    expect(await counts()).toEqual(before);
  });

  it('left no role on the target and no request in the audit log', async () => {
    expect(await rolesOnTarget()).toEqual([]);
    const audit = await server.admin.get(`${T}/audit?action=grant.requested`);
    expect(audit.body.items).toEqual([]);
  });

  it('still accepts the good request afterwards', async () => {
    const res = await alice.post(`${T}/requests`, good());
    expect(res.status).toBe(201);
    expect(res.body.state).toBe('active');
  });
});

describe('bad input elsewhere', () => {
  it('refuses a target configuration with a clear message and stores nothing', async () => {
    const res = await server.admin.post(`${T}/targets`, { name: 'broken', kind: 'postgres', config: { host: 'x', port: 'five' } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^The postgres target's settings are not valid\. .*Port must be a number, not text\./);
    const unknown = await server.admin.post(`${T}/targets`, { name: 'k', kind: 'mainframe', config: {} });
    expect(unknown.body.error.message).toMatch(/unknown target kind "mainframe"; this server supports: postgres/);
    const list = await server.admin.get(`${T}/targets`);
    expect(list.body.items.map((t: { name: string }) => t.name)).toEqual(['db']);
  });

  it('refuses a policy whose default is longer than its maximum', async () => {
    const res = await server.admin.post(`${T}/policies`, {
      name: 'odd', requesterRoles: ['requester'], maxDurationSeconds: 600, defaultDurationSeconds: 3600,
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('the default duration cannot be longer than the maximum duration');
  });

  it.each([
    ['2030-13-01', '2030-13-02'],
    ['2030-00-00', '2030-12-31'],
    ['2030-02-01', '2030-02-30'],
  ])('refuses an access window from %s to %s: no such day (it was a 500)', async (from, to) => {
    const window = { timeZone: 'UTC', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00', dates: { from, to } };
    const before = await counts();
    for (const rules of [{ windows: [window] }, { autoApprove: [{ name: 'office hours', windows: [window] }] }]) {
      const res = await server.admin.post(`${T}/policies`, { name: `dated-${from}`, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, rules });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.message).toMatch(/is not a date in the calendar/);
    }
    expect(await counts()).toEqual(before);
  });

  it('lets a requester neither add targets nor read the audit log', async () => {
    const t = await alice.post(`${T}/targets`, { name: 'mine', kind: 'postgres', config: target.config });
    expect(t.status).toBe(403);
    expect((await alice.get(`${T}/audit`)).status).toBe(403);
  });
});

describe('tenant isolation', () => {
  it("shows another tenant's operator nothing of this tenant", async () => {
    const created = await server.admin.post('/api/v1/tenants', { slug: 'acme', name: 'Acme' });
    expect(created.status).toBe(201);
    const mallory = await addOperator(server, `mallory.${randomBytes(3).toString('hex')}@example.com`, ['admin'], 'acme');
    const tenants = await mallory.get('/api/v1/tenants');
    expect(tenants.body.items.map((t: { slug: string }) => t.slug)).toEqual(['acme']);
    for (const path of [`${T}/targets`, `${T}/grants`, `${T}/jit-accounts`, `${T}/audit`, `${T}/policies`, `${T}/targets/${targetId}`]) {
      const res = await mallory.get(path);
      expect(res.status, path).toBe(404);
      expect(res.body.error.message).toBe('tenant default not found');
    }
    // Ids from another tenant are unknown in one's own.
    const own = await mallory.get(`/api/v1/tenants/acme/targets/${targetId}`);
    expect(own.status).toBe(404);
    const grants = await mallory.get('/api/v1/tenants/acme/grants');
    expect(grants.body.items).toEqual([]);
  });
});

describe('tampered page cursors', () => {
  const cursorOf = (keys: unknown[]) => Buffer.from(JSON.stringify(keys), 'utf8').toString('base64url');
  const uuid = '00000000-0000-4000-8000-000000000000';
  // Each list with a text key in its cursor; a NUL or a lone surrogate there was a 500 (PostgreSQL holds no NUL in text).
  const lists: Array<[string, unknown[]]> = [
    ['/api/v1/tenants', ['a\u0000b']],
    [`${T}/members`, ['a\u0000b', uuid]],
    [`${T}/targets`, ['a\u0000b']],
    [`${T}/jit-accounts`, ['a\u0000b']],
    [`${T}/agents`, ['a\u0000b', uuid]],
    [`${T}/targets`, ['x\ud800y']],
    // Well-formed text where the list pages by id (a uuid column): was a 500 from PostgreSQL's cast.
    [`${T}/jit-accounts`, ['a']],
    [`${T}/jit-accounts?mine=true`, ['2026-01-01T00:00:00Z']],
  ];
  it.each(lists)('%s answers 400 to a cursor holding %j', async (path, keys) => {
    const res = await server.admin.get(`${path}${path.includes('?') ? '&' : '?'}cursor=${cursorOf(keys)}`);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/cursor/);
  });

  it('the audit log answers 400 to a cursor beyond the largest position, and pages up to it', async () => {
    const beyond = await server.admin.get(`${T}/audit?cursor=9999999999999999999`);
    expect(beyond.status, JSON.stringify(beyond.body)).toBe(400);
    expect(JSON.stringify(beyond.body)).toMatch(/cursor/);
    expect((await server.admin.get(`${T}/audit?cursor=9223372036854775807`)).status).toBe(200);
  });
});

describe('page sizes', () => {
  it.each([
    ['9007199254740993', 'must be at most 200'],
    ['1e400', 'must be a number, not text'],
    ['abc', 'must be a number, not text'],
    ['0x10', 'must be a number, not text'],
    ['%205', 'must be a number, not text'],
    ['5&limit=6', 'must be a number, not a list'],
    ['0', 'must be at least 1'],
    ['2.5', 'must be a whole number, not 2.5'],
  ])('limit=%s is a 400 with one message for its one problem', async (limit, message) => {
    const res = await server.admin.get(`${T}/grants?limit=${limit}`);
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues).toEqual([{ path: 'query.limit', message }]);
  });
});

describe('list filters', () => {
  it('a misspelt filter is a 400 naming it, not a list left unfiltered', async () => {
    const res = await server.admin.get(`${T}/grants?stat=active`);
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues).toEqual([{ path: 'query', message: 'has an unknown field "stat"' }]);
    expect((await server.admin.get(`${T}/grants?state=active`)).status).toBe(200);
    // The audit download too: a typo must not export the whole log.
    const exported = await server.admin.get(`${T}/audit/export?acton=grant.revoked`);
    expect(exported.status).toBe(400);
    expect(exported.body.error.details.issues).toEqual([{ path: 'query', message: 'has an unknown field "acton"' }]);
  });

  it('a list that takes no filter refuses one instead of answering everything', async () => {
    for (const path of [`${T}/policies?targetId=${randomUUID()}`, `${T}/webhooks?limit=1`, '/api/v1/tokens?name=x']) {
      const res = await server.admin.get(path);
      expect(res.status, path).toBe(400);
      expect(res.body.error.details.issues[0].path, path).toBe('query');
    }
    expect((await server.admin.get(`${T}/policies`)).status).toBe(200);
    // What others add of their own stays welcome: a probe's cache-buster, an identity provider
    // starting the sign-in itself.
    expect((await server.admin.get('/healthz?_=1712345')).status).toBe(200);
    const started = await server.admin.get(`/api/v1/auth/sso/default/start?iss=${encodeURIComponent('https://idp.example')}&login_hint=ann`);
    expect(started.status).not.toBe(400);
  });

  it('bodies refuse fields they do not know, sign-in and tokens included', async () => {
    const token = await server.admin.post('/api/v1/tokens', { name: 'ci', scope: 'admin' });
    expect(token.status).toBe(400);
    expect(token.body.error.message).toMatch(/unknown field "scope"/);
    expect((await server.admin.get('/api/v1/tokens')).body.items.some((t: { name: string }) => t.name === 'ci')).toBe(false);
    const login = await server.admin.post('/api/v1/auth/login', { email: 'nobody@example.test', password: 'x', remember: true });
    expect(login.status).toBe(400);
    // Over its bound and a whole number's safe limit: told the bound a person can use.
    const huge = await server.admin.post('/api/v1/tokens', { name: 'ci', expiresInDays: 2 ** 53 + 1 });
    expect(huge.status).toBe(400);
    expect(huge.body.error.details.issues).toEqual([{ path: 'body.expiresInDays', message: 'must be at most 3650' }]);
  });
});

describe('JSON bodies that are not UTF-8', () => {
  let adminToken = '';
  let mine: ApiClient;
  beforeAll(async () => {
    const m = await createMember(server.tb, 'default', `bytes.${randomBytes(3).toString('hex')}@example.com`, ['requester']);
    adminToken = (await apiClient(server.url).post('/api/v1/auth/login', { email: m.email, password: m.password })).body.token;
    mine = apiClient(server.url, adminToken);
  });
  /** POST /api/v1/tokens (a name is stored as sent) with these bytes as its body. */
  const send = async (bytes: Buffer, contentType = 'application/json') => {
    const res = await fetch(new URL('/api/v1/tokens', server.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': contentType },
      body: bytes,
    });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string }; name?: string } };
  };
  const tokensNamed = async (prefix: string) =>
    ((await mine.get('/api/v1/tokens')).body.items as Array<{ name: string }>).filter((t) => t.name.startsWith(prefix));

  it('refuses bytes that are not UTF-8 (400) and a body declared in another charset (415); stores nothing', async () => {
    const broken = Buffer.concat([Buffer.from('{"name":"bad-'), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from('"}')]);
    const notUtf8 = await send(broken);
    expect(notUtf8.status).toBe(400);
    expect(notUtf8.body.error!.message).toBe('The request is not valid UTF-8 text.');
    const latin1 = await send(Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]), 'application/json; charset=latin1');
    expect(latin1.status).toBe(415);
    expect(latin1.body.error).toEqual({ code: 'unsupported_media_type', message: 'the body is declared as latin1; send JSON in UTF-8 (charset=utf-8, or no charset)' });
    expect(await tokensNamed('bad-')).toEqual([]);
    expect(await tokensNamed('caf')).toEqual([]);
    // The same text in UTF-8 is taken as it is.
    const fine = await send(Buffer.from('{"name":"café"}', 'utf8'), 'application/json; charset=UTF-8');
    expect(fine.status, JSON.stringify(fine.body)).toBe(201);
    expect((await tokensNamed('caf')).map((t) => t.name)).toEqual(['café']);
  });
});

describe('requests the HTTP parser refuses', () => {
  /** Sends raw bytes and reads the answer until the server closes the connection. */
  const raw = (bytes: string) =>
    new Promise<string>((resolve, reject) => {
      const { hostname, port } = new URL(server.url);
      const socket = net.connect({ host: hostname, port: Number(port) }, () => socket.write(bytes));
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (d) => (answer += d));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });

  it.each([
    ['a malformed request line', 'GET /api/v1/health HTTP/9\r\n\r\n', 400, { code: 'bad_request', message: 'the request is not valid HTTP' }],
    ['headers over the limit', `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, { code: 'headers_too_large', message: 'the request headers are too large' }],
  ])('%s is answered in the API error shape, then the connection is closed', async (_what, bytes, status, error) => {
    const answer = await raw(bytes);
    expect(answer.split('\r\n')[0]).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error });
  });

  it('a control character in a path the router takes whole is named as the path, not by its pattern', async () => {
    const res = await fetch(new URL('/api/v1/me%00', server.url));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/^The path in the address must not contain control characters/);
  });

  it('a path whose %-escape is no text (a lone surrogate) is a 400 in the API error shape', async () => {
    const res = await fetch(new URL('/api/v1/tenants/%ED%A0%80/audit', server.url));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'bad_request', message: 'the URL is not valid: a %-escape in its path does not decode to text' } });
  });

  it('a long id or slug in a path is the route\'s own 400, for every method, signed in or not; an absurd one is a 414', async () => {
    const long = 'a'.repeat(101);
    const calls: Array<[string, string, boolean]> = [
      ['POST', `/api/v1/auth/sso/${long}/device`, false],
      ['DELETE', `/api/v1/tokens/${long}`, true],
      ['POST', `${T}/grants/${long}/revoke`, true],
      ['GET', `${T}/grants/${long}`, true],
      ['POST', `/api/v1/tenants/${long}/requests`, true],
    ];
    for (const [method, path, signedIn] of calls) {
      const res = await (signedIn ? server.admin.call(method, path, method === 'GET' || method === 'DELETE' ? undefined : {}) : apiClient(server.url).call(method, path, {}));
      expect(res.status, `${method} ${path.slice(0, 60)}: ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path.slice(0, 60)}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
      expect(res.body.error.message).not.toMatch(/^no route/);
    }
    const absurd = await server.admin.call('POST', `${T}/grants/${'a'.repeat(2_001)}/revoke`, {});
    expect(absurd.status).toBe(414);
    expect(absurd.body).toEqual({ error: { code: 'uri_too_long', message: 'the URL is too long: a part of its path is longer than 2,000 characters' } });
  });
});
