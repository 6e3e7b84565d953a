import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { generate } from 'otplib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperators } from '../auth/operators.js';
import { createTotp } from '../auth/totp.js';
import { createSecretBox } from '../secrets/envelope.js';
import { createTestApp, type SignedIn, type TestApp } from './testing.js';

const logLines: string[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
);

let t: TestApp;
let admin: SignedIn;
let secret: string;
/** Every code sent in this file, for the leak check at the end. */
const codes: string[] = [];
/** The recovery codes handed out at enrolment. */
let recovery: string[] = [];

beforeAll(async () => {
  t = await createTestApp({ logger });
  admin = await t.login(t.admin.email, t.admin.password);
});
afterAll(async () => {
  await t.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
async function codeAt(offset = 0): Promise<string> {
  const code = await generate({ secret, epoch: Math.floor(t.clock.now().getTime() / 1000) + offset });
  codes.push(code);
  return code;
}
/** Each test signs in from its own address, so the per-minute sign-in limit is not what answers. */
const login = (remoteAddress: string, extra: Record<string, string> = {}) =>
  t.request({ method: 'POST', url: '/api/v1/auth/login', payload: { email: t.admin.email, password: t.admin.password, ...extra }, remoteAddress });
const me = async (token: string) => (await t.request({ method: 'GET', url: '/api/v1/me', headers: bearer(token) })).json();

const required = { error: { code: 'unauthorized', message: 'enter the 6-digit code from your authenticator app', details: { mfa: 'required' } } };
const invalid = { error: { code: 'unauthorized', message: 'that code is wrong or was already used', details: { mfa: 'invalid' } } };

describe('enrolling an authenticator app', () => {
  it('cannot be started with an API token, only from a signed-in session', async () => {
    const created = await t.request({ method: 'POST', url: '/api/v1/tokens', headers: bearer(admin.token), payload: { name: 'ci' } });
    const apiToken = created.json<{ token: string }>().token;
    const res = await t.request({ method: 'POST', url: '/api/v1/me/mfa/totp', headers: bearer(apiToken) });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({
      error: { code: 'forbidden', message: 'Managing an authenticator app needs a signed-in session, not an API token' },
    });
    expect((await me(admin.token)).operator.mfaEnabled).toBe(false);
  });

  it('shows the secret once, and is confirmed with a code from the app', async () => {
    const start = await t.request({ method: 'POST', url: '/api/v1/me/mfa/totp', headers: bearer(admin.token) });
    expect(start.statusCode).toBe(200);
    secret = start.json<{ secret: string }>().secret;
    expect(start.json()).toEqual({
      secret: expect.stringMatching(/^[A-Z2-7]{32}$/),
      otpauthUri: `otpauth://totp/Timebox:admin%40localhost?secret=${secret}&issuer=Timebox`,
    });

    const confirm = (code: string) =>
      t.request({ method: 'POST', url: '/api/v1/me/mfa/totp/confirm', headers: bearer(admin.token), payload: { code } });
    const right = await codeAt();
    const wrong = await confirm(`${(Number(right[0]) + 1) % 10}${right.slice(1)}`);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual(invalid);
    const confirmed = await confirm(right);
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.headers['cache-control']).toBe('no-store');
    recovery = confirmed.json<{ recoveryCodes: string[] }>().recoveryCodes;
    expect(recovery).toHaveLength(10);
    for (const c of recovery) expect(c).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
    expect(new Set(recovery).size).toBe(10);
    expect((await me(admin.token)).operator.mfaEnabled).toBe(true);
  });
});

describe('signing in once enrolled', () => {
  it('asks for the code after the password, accepts it once, and refuses a used one', async () => {
    const missing = await login('10.0.0.1');
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toEqual(required);
    expect(missing.headers['set-cookie']).toBeUndefined();
    // A wrong password says nothing about the second factor, code or no code.
    const wrongPassword = await login('10.0.0.1', { password: 'not-the-password', totp: await codeAt() });
    expect(wrongPassword.json()).toEqual({ error: { code: 'unauthorized', message: 'email or password is incorrect' } });

    t.clock.advance(30_000);
    const code = await codeAt();
    const ok = await login('10.0.0.1', { totp: code });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().token).toMatch(/^tb_/);

    const again = await login('10.0.0.1', { totp: code });
    expect(again.statusCode).toBe(401);
    expect(again.json()).toEqual(invalid);
    const old = await login('10.0.0.1', { totp: await codeAt(-30) });
    expect(old.json()).toEqual(invalid);

    const logins = await t.db.selectFrom('audit_events').select('after').where('action', '=', 'auth.login').orderBy('seq', 'desc').limit(1).execute();
    expect(logins[0]?.after).toMatchObject({ email: 'admin@localhost', mfa: true });
  });

  it('is still limited per minute, code or no code', async () => {
    for (let i = 0; i < 10; i++) await login('10.0.0.2');
    const limited = await login('10.0.0.2');
    expect(limited.statusCode).toBe(429);
  });
});

describe('recovery codes (the app is lost)', () => {
  it('sign in once each, typed any way; a wrong or used one counts as a wrong code', async () => {
    const [first, second] = recovery as [string, string];
    const ok = await login('10.0.1.1', { totp: ` ${first.toUpperCase().replace(/-/g, ' ')} ` });
    expect(ok.statusCode).toBe(200);
    expect((await login('10.0.1.2', { totp: first })).json()).toEqual(invalid);
    expect((await login('10.0.1.3', { totp: 'abcd-efgh-jkmn' })).json()).toEqual(invalid);
    expect((await login('10.0.1.4', { totp: second.replace(/-/g, '') })).statusCode).toBe(200);
    const used = await t.db.selectFrom('audit_events').select('after').where('action', '=', 'mfa.recovery_code_used').orderBy('seq').execute();
    expect(used.map((u) => u.after)).toEqual([{ purpose: 'login', remaining: 9 }, { purpose: 'login', remaining: 8 }]);
  });

  it('are replaced with a current code from the app: the old ones stop working', async () => {
    t.clock.advance(30_000);
    const replaced = await t.request({ method: 'POST', url: '/api/v1/me/mfa/recovery-codes', headers: bearer(admin.token), payload: { code: await codeAt() } });
    expect(replaced.statusCode).toBe(200);
    const fresh = replaced.json<{ recoveryCodes: string[] }>().recoveryCodes;
    expect(fresh).toHaveLength(10);
    expect((await login('10.0.1.5', { totp: recovery[2]! })).json()).toEqual(invalid);
    recovery = fresh;
  });
});

describe('removing the app', () => {
  it('needs a current code and a session; afterwards sign-in asks for the password only', async () => {
    const remove = (token: string, code: string) =>
      t.request({ method: 'DELETE', url: '/api/v1/me/mfa/totp', headers: bearer(token), payload: { code } });
    t.clock.advance(30_000);
    const code = await codeAt();
    const wrong = await remove(admin.token, '000000' === code ? '111111' : '000000');
    expect(wrong.json()).toEqual(invalid);

    const created = await t.request({ method: 'POST', url: '/api/v1/tokens', headers: bearer(admin.token), payload: { name: 'bot' } });
    expect((await remove(created.json<{ token: string }>().token, code)).statusCode).toBe(403);

    expect((await remove(admin.token, code)).statusCode).toBe(204);
    expect((await me(admin.token)).operator.mfaEnabled).toBe(false);
    expect((await login('10.0.0.3')).statusCode).toBe(200);
    // Without an app, new recovery codes are refused as removing it again is: nothing is enrolled.
    const noApp = { error: { code: 'conflict', message: expect.stringMatching(/^no authenticator app is enrolled/) } };
    const codesAgain = await t.request({ method: 'POST', url: '/api/v1/me/mfa/recovery-codes', headers: bearer(admin.token), payload: { code } });
    expect([codesAgain.statusCode, codesAgain.json()]).toEqual([409, noApp]);
    const removeAgain = await remove(admin.token, code);
    expect([removeAgain.statusCode, removeAgain.json()]).toEqual([409, noApp]);

    const actions = await t.db.selectFrom('audit_events').select('action').where('action', 'like', 'mfa.%').orderBy('seq').execute();
    expect(actions.map((a) => a.action)).toEqual([
      'mfa.verify_failed',
      'mfa.enrolled',
      'mfa.verify_failed',
      'mfa.verify_failed',
      'mfa.recovery_code_used',
      'mfa.verify_failed', // the used recovery code
      'mfa.verify_failed', // one that never existed
      'mfa.recovery_code_used',
      'mfa.recovery_codes_replaced',
      'mfa.verify_failed', // a code of the replaced set
      'mfa.verify_failed',
      'mfa.disabled',
    ]);
  });
});

describe('a platform administrator resetting someone who lost app and codes', () => {
  it('is refused to others, needs a reason, removes the app and its codes, and is audited', async () => {
    const ops = createOperators({ db: t.db, audit: t.audit, clock: t.clock });
    const bob = await ops.create({ email: 'bob@example.com', displayName: 'Bob', password: 'bob-password-123' }, { type: 'system', id: null });
    const bobTotp = createTotp({ db: t.db, secrets: createSecretBox(randomBytes(32)), clock: t.clock, audit: t.audit });
    const bobSecret = (await bobTotp.startEnrolment(bob.id)).secret;
    await bobTotp.confirmEnrolment(bob.id, await generate({ secret: bobSecret, epoch: Math.floor(t.clock.now().getTime() / 1000) }));
    const reset = (token: string, body: Record<string, string>, id = bob.id) => t.request({ method: 'DELETE', url: `/api/v1/operators/${id}/mfa`, headers: bearer(token), payload: body });

    const bobSession = await t.login('bob@example.com', 'bob-password-123', '10.0.2.1').catch(() => null);
    expect(bobSession).toBeNull(); // his app is needed to sign in
    const short = await reset(admin.token, { reason: 'lost' });
    expect(short.statusCode).toBe(400);
    expect(short.json().error.message).toMatch(/at least 10 characters/);
    expect((await reset(admin.token, { reason: 'identified by video call with his manager' }, admin.operatorId)).statusCode).toBe(403);

    expect((await reset(admin.token, { reason: 'identified by video call with his manager' })).statusCode).toBe(204);
    expect(await bobTotp.isEnabled(bob.id)).toBe(false);
    expect(await t.db.selectFrom('operator_recovery_codes').select('code_hash').where('operator_id', '=', bob.id).execute()).toEqual([]);
    const audited = await t.db.selectFrom('audit_events').select(['actor_id', 'reason']).where('action', '=', 'mfa.reset').execute();
    expect(audited).toEqual([{ actor_id: admin.operatorId, reason: 'identified by video call with his manager' }]);

    // Bob signs in with his password alone now, and may not reset anyone himself.
    const bobIn = await t.login('bob@example.com', 'bob-password-123', '10.0.2.2');
    const notAdmin = await reset(bobIn.token, { reason: 'identified by video call with his manager' }, admin.operatorId);
    expect(notAdmin.statusCode).toBe(403);
    expect(notAdmin.json().error.message).toMatch(/only a platform administrator/);
  });
});

it('no secret or code appears in audit rows or logs', async () => {
  const audit = JSON.stringify(await t.db.selectFrom('audit_events').selectAll().execute());
  const logs = logLines.join('\n');
  expect(logs).toContain('/api/v1/me/mfa/totp'); // requests are logged...
  expect(audit).not.toContain(secret); // ...but never the secret or a code
  expect(logs).not.toContain(secret);
  for (const code of [...codes, ...recovery]) {
    expect(audit).not.toContain(code);
    expect(logs).not.toContain(code);
  }
  expect(await t.leakedHashes()).toEqual([]);
});
