import { noAccessToEnd } from '../auth/member-removal.js';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createOperators } from '../auth/operators.js';
import { ACCOUNT_FAILURES, ADDRESS_FAILURES } from '../auth/password-guesses.js';
import { LOGIN_ATTEMPTS_PER_MINUTE } from './routes/auth-routes.js';
import { createHttpServer } from './server.js';
import { createTestApp, type TestApp } from './testing.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const login = (email: string, password: string, remoteAddress = '127.0.0.1') =>
  t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
/** The Set-Cookie line of one cookie ('' when the response sets none by that name). */
function setCookie(res: LightMyRequestResponse, name: string): string {
  const header = res.headers['set-cookie'];
  const lines = Array.isArray(header) ? header : header ? [String(header)] : [];
  return lines.find((l) => l.startsWith(`${name}=`)) ?? '';
}

async function timed<T>(fn: () => Promise<T>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

describe('sign in', () => {
  it('accepts the right password: token, CSRF token and an HttpOnly SameSite=Strict cookie', async () => {
    const res = await login('  Admin@LOCALHOST ', t.admin.password);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.token).toMatch(/^tb_[A-Za-z0-9_-]{43}$/);
    expect(body.csrfToken).toEqual(expect.any(String));
    expect(new Date(body.expiresAt).getTime() - t.clock.now().getTime()).toBe(12 * 3600 * 1000);
    expect(body.operator).toEqual({ id: expect.any(String), email: 'admin@localhost', displayName: 'Administrator' });
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toContain(`timebox_session=${body.token}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/);
  });

  it('marks the cookie Secure when the server is configured for HTTPS', async () => {
    const app = await createHttpServer({ db: t.db, audit: t.audit, clock: t.clock, logger: false, routes: [], memberRemoval: noAccessToEnd, secureCookies: true });
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: t.admin.email, password: t.admin.password }, remoteAddress: '10.8.8.8' });
    await app.close();
    expect(String(res.headers['set-cookie'])).toMatch(/; Secure/);
  });

  it('answers a wrong password and an unknown email identically, in similar time', async () => {
    const wrong = await login(t.admin.email, 'not-the-password');
    const unknown = await login('nobody@example.com', 'not-the-password');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: { code: 'unauthorized', message: 'email or password is incorrect' } });
    expect(unknown.body).toBe(wrong.body);
    expect(unknown.headers['set-cookie']).toBeUndefined();

    // Both paths run one argon2 verification; medians of 3 absorb noise on a busy machine.
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
    const known: number[] = [];
    const missing: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await timed(() => login(t.admin.email, `wrong-${i}`, '10.0.0.2')));
      missing.push(await timed(() => login(`ghost${i}@example.com`, 'wrong', '10.0.0.2')));
    }
    const ratio = median(missing) / median(known);
    expect(ratio).toBeGreaterThan(0.33);
    expect(ratio).toBeLessThan(3);
  });

  it('audits failed sign-ins with the email and never the password', async () => {
    await login('Mallory@Example.com', 'hunter2-secret');
    const events = await t.db.selectFrom('audit_events').selectAll().where('action', '=', 'auth.login_failed').execute();
    const last = events.at(-1)!;
    expect(last.after).toMatchObject({ email: 'mallory@example.com' });
    expect(JSON.stringify(events)).not.toContain('hunter2-secret');
    const ok = await t.db.selectFrom('audit_events').select('action').where('action', '=', 'auth.login').execute();
    expect(ok.length).toBeGreaterThan(0);
  });

  it(`limits attempts per address and email to ${LOGIN_ATTEMPTS_PER_MINUTE} a minute with a clear 429`, async () => {
    const ip = '10.9.9.9';
    for (let i = 0; i < LOGIN_ATTEMPTS_PER_MINUTE; i++) {
      expect((await login('victim@example.com', `guess-${i}`, ip)).statusCode).toBe(401);
    }
    const blocked = await login('victim@example.com', 'guess-last', ip);
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error).toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/^too many sign-in attempts; try again in /) });
    // Another account from the same address is not locked out.
    expect((await login(t.admin.email, t.admin.password, ip)).statusCode).toBe(200);
  });

  /** A person with a password of their own (not a member anywhere: sign-in is what is tested). */
  async function person(email: string): Promise<string> {
    const password = `Own-${randomBytes(12).toString('base64url')}`;
    await createOperators({ db: t.db, audit: t.audit, clock: t.clock }).create({ email, displayName: email.split('@')[0]!, password }, { type: 'system', id: null });
    return password;
  }

  it(`refuses an account after ${ACCOUNT_FAILURES.max} failed attempts from any number of addresses, its right password too; other accounts go on`, async () => {
    const password = await person('spread@example.com');
    // Each address stays well under the per-minute limit: two guesses each.
    for (let i = 0; i < ACCOUNT_FAILURES.max; i++) {
      expect((await login('spread@example.com', `guess-${i}`, `10.20.${Math.floor(i / 2)}.1`)).statusCode).toBe(401);
    }
    const right = await login('spread@example.com', password, '10.21.0.1');
    expect(right.statusCode).toBe(429);
    expect(right.json().error).toEqual({ code: 'rate_limited', message: expect.stringMatching(/^too many failed password attempts for this account; try again in \d+ minute\(s\)$/) });
    expect((await login(t.admin.email, t.admin.password, '10.21.0.1')).statusCode).toBe(200);
    const audited = await t.db.selectFrom('audit_events').select('reason').where('action', '=', 'auth.login_failed').where('reason', '=', 'too many failed attempts').execute();
    expect(audited.length).toBeGreaterThan(0);
  });

  it(`refuses an address after ${ADDRESS_FAILURES.max} failed attempts on any accounts`, async () => {
    const ip = '10.30.0.1';
    for (let i = 0; i < ADDRESS_FAILURES.max; i++) {
      // A new account each time: the per-minute and per-account limits never trip.
      expect((await login(`sprayed-${i}@example.com`, 'Winter2026!', ip)).statusCode).toBe(401);
    }
    const next = await login(t.admin.email, t.admin.password, ip);
    expect(next.statusCode).toBe(429);
    expect(next.json().error.message).toMatch(/^too many failed password attempts from this address; try again in /);
    expect((await login(t.admin.email, t.admin.password, '10.30.0.2')).statusCode).toBe(200);
  });

  it('counts a wrong current password of a password change against the account, and audits it', async () => {
    const password = await person('stolen-session@example.com');
    const s = await t.login('stolen-session@example.com', password, '10.40.0.1');
    const change = (current: string) =>
      t.request({ method: 'POST', url: '/api/v1/me/password', headers: bearer(s.token), payload: { currentPassword: current, newPassword: `Next-${randomBytes(9).toString('base64url')}` }, remoteAddress: '10.40.0.2' });
    for (let i = 0; i < ACCOUNT_FAILURES.max; i++) expect((await change(`guess-${i}`)).statusCode).toBe(403);
    const limited = await change(password);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.message).toMatch(/^too many failed password attempts for this account/);
    const failures = await t.db.selectFrom('audit_events').select('action').where('action', '=', 'operator.password_change_failed').where('actor_id', '=', s.operatorId).execute();
    expect(failures).toHaveLength(ACCOUNT_FAILURES.max);
    // Sign-in shares the budget: the account waits out its window.
    expect((await login('stolen-session@example.com', password, '10.40.0.3')).statusCode).toBe(429);
  });
});

describe('browser sessions', () => {
  it('lets the cookie read, but unsafe requests need the matching CSRF token', async () => {
    const s = await t.login(t.admin.email, t.admin.password);
    const me = await t.request({ method: 'GET', url: '/api/v1/me', headers: { cookie: s.cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json().operator.email).toBe('admin@localhost');

    const create = (headers: Record<string, string>) =>
      t.request({ method: 'POST', url: '/api/v1/tokens', headers: { cookie: s.cookie, ...headers }, payload: { name: 'ci' } });
    for (const res of [await create({}), await create({ 'x-csrf-token': 'forged' })]) {
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ error: { code: 'forbidden', message: 'missing or invalid CSRF token' } });
    }
    const ok = await create({ 'x-csrf-token': s.csrfToken });
    expect(ok.statusCode).toBe(201);
  });

  it('refuses two Authorization headers with a 400, whichever of them is valid', async () => {
    const s = await t.login(t.admin.email, t.admin.password, '198.51.100.17');
    for (const both of [[`Bearer ${s.token}`, 'Bearer tb_forged'], ['Bearer tb_forged', `Bearer ${s.token}`]]) {
      // Sent as two header lines, as a client or a proxy in front can.
      const res = await t.request({ method: 'GET', url: '/api/v1/me', headers: { authorization: both as unknown as string } });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: { code: 'bad_request', message: 'send one Authorization header, not several' } });
    }
    expect((await t.request({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${s.token}` } })).statusCode).toBe(200);
  });

  it('a session CSRF token does not work with another session', async () => {
    const a = await t.login(t.admin.email, t.admin.password);
    const b = await t.login(t.admin.email, t.admin.password);
    const res = await t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: a.cookie, 'x-csrf-token': b.csrfToken } });
    expect(res.statusCode).toBe(403);
  });

  it('sign-out ends the session and clears the cookie', async () => {
    const s = await t.login(t.admin.email, t.admin.password);
    const out = await t.request({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: s.cookie, 'x-csrf-token': s.csrfToken } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/timebox_session=;/);
    const after = await t.request({ method: 'GET', url: '/api/v1/me', headers: { cookie: s.cookie } });
    expect(after.statusCode).toBe(401);
  });

  it('a session ends after 12 hours', async () => {
    const s = await t.login(t.admin.email, t.admin.password);
    t.clock.advance(12 * 3600 * 1000 - 1000);
    expect((await t.request({ method: 'GET', url: '/api/v1/me', headers: bearer(s.token) })).statusCode).toBe(200);
    t.clock.advance(1000);
    expect((await t.request({ method: 'GET', url: '/api/v1/me', headers: bearer(s.token) })).statusCode).toBe(401);
  });
});

describe('the readable CSRF cookie (double submit: a second tab stays signed in)', () => {
  // Its own client address, so these sign-ins do not use up the others' rate limit.
  const ip = '10.7.7.7';

  it('is set at sign-in with the CSRF token: not HttpOnly, SameSite=Strict, Path=/, ending with the session', async () => {
    const res = await login(t.admin.email, t.admin.password, ip);
    const body = res.json<{ csrfToken: string; expiresAt: string }>();
    const line = setCookie(res, 'timebox_csrf');
    expect(line.startsWith(`timebox_csrf=${body.csrfToken};`)).toBe(true);
    expect(line).toMatch(/; SameSite=Strict/);
    expect(line).toMatch(/; Path=\/(;|$)/);
    expect(line).not.toMatch(/HttpOnly/);
    expect(line).not.toMatch(/Secure/); // plain HTTP: a Secure cookie would never come back
    const expires = Date.parse(/; Expires=([^;]+)/.exec(line)?.[1] ?? '');
    expect(expires).toBe(Math.floor(Date.parse(body.expiresAt) / 1000) * 1000);
  });

  it('is Secure when the request came over HTTPS (a proxy that says so), even without secure session cookies', async () => {
    const app = await createHttpServer({ db: t.db, audit: t.audit, clock: t.clock, logger: false, routes: [], memberRemoval: noAccessToEnd, trustProxy: { kind: 'hops', hops: 1 } });
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'x-forwarded-proto': 'https' },
      payload: { email: t.admin.email, password: t.admin.password },
    });
    await app.close();
    expect(res.statusCode).toBe(200);
    expect(setCookie(res, '__Host-timebox_csrf')).toMatch(/; Secure/);
  });

  it('authorises nothing by itself: the session cookie plus the CSRF cookie without the header is refused', async () => {
    const s = await t.login(t.admin.email, t.admin.password, ip);
    const cookie = `${s.cookie}; timebox_csrf=${s.csrfToken}`;
    const create = (headers: Record<string, string>) =>
      t.request({ method: 'POST', url: '/api/v1/tokens', headers: { cookie, ...headers }, payload: { name: 'from a tab' } });
    for (const res of [await create({}), await create({ 'x-csrf-token': 'forged' })]) {
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ error: { code: 'forbidden', message: 'missing or invalid CSRF token' } });
    }
    // What a second tab does: echo the cookie's value in the header.
    expect((await create({ 'x-csrf-token': s.csrfToken })).statusCode).toBe(201);
  });

  it('is cleared at sign-out together with the session cookie', async () => {
    const s = await t.login(t.admin.email, t.admin.password, ip);
    const out = await t.request({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: { cookie: `${s.cookie}; timebox_csrf=${s.csrfToken}`, 'x-csrf-token': s.csrfToken },
    });
    expect(out.statusCode).toBe(204);
    const line = setCookie(out, 'timebox_csrf');
    expect(line).toMatch(/^timebox_csrf=;/);
    expect(line).toMatch(/; Path=\/(;|$)/);
    expect(Date.parse(/; Expires=([^;]+)/.exec(line)?.[1] ?? '')).toBe(0);
    expect(setCookie(out, 'timebox_session')).toMatch(/^timebox_session=;/);
  });
});

describe('API tokens', () => {
  it('work as Bearer until revoked, are listed without secrets, and stop working once revoked', async () => {
    const s = await t.login(t.admin.email, t.admin.password);
    const created = await t.request({ method: 'POST', url: '/api/v1/tokens', headers: bearer(s.token), payload: { name: 'deploy bot', expiresInDays: 30 } });
    expect(created.statusCode).toBe(201);
    const { id, token, expiresAt } = created.json();
    expect(new Date(expiresAt).getTime() - t.clock.now().getTime()).toBe(30 * 86400 * 1000);

    const me = await t.request({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({
      operator: { email: 'admin@localhost', platformAdmin: true },
      memberships: [{ tenant: { slug: 'default', name: 'Default' }, roles: ['owner'] }],
    });

    const list = await t.request({ method: 'GET', url: '/api/v1/tokens', headers: bearer(s.token) });
    const item = list.json().items.find((i: { id: string }) => i.id === id);
    expect(item).toMatchObject({ name: 'deploy bot', lastUsedAt: expect.any(String) });
    expect(list.body).not.toContain(token);

    // A token cannot mint more tokens (a leaked one must not outlive its revocation).
    const mint = await t.request({ method: 'POST', url: '/api/v1/tokens', headers: bearer(token), payload: { name: 'x' } });
    expect(mint.statusCode).toBe(403);

    const del = await t.request({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: bearer(s.token) });
    expect(del.statusCode).toBe(204);
    const revoked = await t.request({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json()).toEqual({ error: { code: 'unauthorized', message: 'sign in first (missing or invalid token)' } });
  });

  it('an API token in the session cookie is refused', async () => {
    const s = await t.login(t.admin.email, t.admin.password);
    const { token } = (await t.request({ method: 'POST', url: '/api/v1/tokens', headers: bearer(s.token), payload: { name: 'n' } })).json();
    const res = await t.request({ method: 'GET', url: '/api/v1/me', headers: { cookie: `timebox_session=${token}` } });
    expect(res.statusCode).toBe(401);
  });

  it('no credentials, or a garbage one, is a 401', async () => {
    for (const headers of [{}, { authorization: 'Bearer tb_nope' }, { authorization: 'Basic YTpi' }]) {
      const res = await t.request({ method: 'GET', url: '/api/v1/me', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.message).toBe('sign in first (missing or invalid token)');
    }
  });
});

it('no response contained a password hash or token hash', async () => {
  expect(await t.leakedHashes()).toEqual([]);
});
