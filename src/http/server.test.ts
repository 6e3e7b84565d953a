import { noAccessToEnd } from '../auth/member-removal.js';
import { Writable } from 'node:stream';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAuditLog } from '../audit/audit-log.js';
import { fakeClock } from '../core/clock.js';
import type { Database } from '../store/schema.js';
import { createHttpServer, type ZodApp } from './server.js';
import { createTestApp, type SignedIn, type TestApp } from './testing.js';

const logLines: string[] = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
);

/** Extra routes, registered the way other modules add theirs. */
function probeRoutes(app: ZodApp) {
  app.get('/api/v1/probe/boom', async () => {
    throw new Error('relation "secret_table" does not exist at character 42');
  });
  app.get('/api/v1/probe/duplicate', async () => {
    throw Object.assign(new Error('duplicate key value violates unique constraint "tenants_slug_key"'), { code: '23505' });
  });
  app.get(
    '/api/v1/probe/filtered',
    { schema: { response: { 200: z.object({ id: z.string() }) } } },
    async () => ({ id: 'x', passwordHash: '$argon2id$v=19$not-for-you' }),
  );
}

let t: TestApp;
let admin: SignedIn;
beforeAll(async () => {
  t = await createTestApp({ routes: [probeRoutes], logger });
  admin = await t.login(t.admin.email, t.admin.password);
});
afterAll(async () => {
  await t.close();
});

describe('errors a client sees', () => {
  it('malformed JSON is a 400 that says so', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": "a@b.c", ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'bad_request', message: 'request body is not valid JSON' } });
  });

  it('a plain-text body is a 415, as a form is: the API takes JSON', async () => {
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded']) {
      const res = await t.request({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': type }, payload: 'email=a@b.c' });
      expect(res.statusCode, type).toBe(415);
      expect(res.json().error.message).toMatch(/send application\/json/);
    }
  });

  it('a compressed body is a 415 that says so, not broken text', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00]),
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().error.message).toBe('the body is gzip-encoded; send the JSON uncompressed');
  });

  it('a "__proto__" field is refused as such, not as malformed JSON', async () => {
    for (const payload of ['{"email":"a@b.c","password":"x","__proto__":{"isAdmin":true}}', '{"constructor":{"prototype":{"x":1}}}']) {
      const res = await t.request({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.message).toMatch(/"__proto__".*never accepted/);
    }
  });

  it('wrong types are a 400 naming each field and problem', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { authorization: `Bearer ${admin.token}` },
      payload: { name: 'ci', expiresInDays: 'ten' },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('bad_request');
    expect(body.error.message).toContain('Expires in days must be a number, not text.');

    const missing = await t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'a@b.c' } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.message).toContain('Password is required.');
  });

  it('a body over 256 KiB is a 413', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'a@b.c', password: 'x'.repeat(300 * 1024) },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ error: { code: 'payload_too_large', message: 'request body is larger than 256 KiB' } });
  });

  it('a body that is not JSON is a 415', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'text/xml' },
      payload: '<login/>',
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('unsupported_media_type');
  });

  it('an unknown route is a 404 in the same JSON shape', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.json()).toEqual({ error: { code: 'not_found', message: 'no route GET /api/v1/nothing-here' } });
  });

  it('an unexpected failure is a bare 500; the cause is only in the log', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/probe/boom', headers: { authorization: `Bearer ${admin.token}` } });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(res.body).not.toContain('secret_table');
    expect(logLines.join('')).toContain('secret_table');
  });

  it('a unique violation that escapes is a 409 without the SQL detail', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/probe/duplicate', headers: { authorization: `Bearer ${admin.token}` } });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ error: { code: 'conflict', message: 'already exists' } });
  });

  it('a malformed cursor is a 400', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/tenants?cursor=%%%', headers: { authorization: `Bearer ${admin.token}` } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain('query.cursor');
  });
});

describe('the server', () => {
  it('response schemas drop fields they do not declare', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v1/probe/filtered', headers: { authorization: `Bearer ${admin.token}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: 'x' });
  });

  it('serves an OpenAPI document listing the routes, without signing in', async () => {
    const res = await t.request({ method: 'GET', url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/auth/login',
        '/api/v1/auth/logout',
        '/api/v1/me',
        '/api/v1/tokens',
        '/api/v1/tokens/{id}',
        '/api/v1/tenants',
        '/api/v1/tenants/{tenant}/members',
        '/api/v1/tenants/{tenant}/members/{operatorId}',
        '/healthz',
      ]),
    );
    const login = doc.paths['/api/v1/auth/login'].post;
    expect(login.requestBody.content['application/json'].schema.required).toEqual(['email', 'password']);
    expect(Object.keys(login.responses)).toContain('200');
  });

  it('health check answers ok when the database does', async () => {
    const res = await t.request({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('health check answers 503 when the database does not', async () => {
    const clock = fakeClock();
    const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 2000 });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const app = await createHttpServer({ db, audit: createAuditLog({ clock }), clock, logger: false, routes: [], memberRemoval: noAccessToEnd });
    try {
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ status: 'unavailable' });
    } finally {
      await app.close();
      await db.destroy();
    }
  });

  it('never logs passwords or tokens', async () => {
    const me = await t.login(t.admin.email, t.admin.password);
    await t.request({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${me.token}` } });
    const log = logLines.join('');
    expect(log).toContain('/api/v1/me'); // requests are logged...
    expect(log).not.toContain(t.admin.password); // ...but not their secrets
    expect(log).not.toContain(me.token);
    expect(log).not.toContain(me.csrfToken);
  });

  it('no response contained a password hash or token hash', async () => {
    expect(t.seen.length).toBeGreaterThan(10);
    expect(await t.leakedHashes()).toEqual([]);
  });
});
