/**
 * The notification API as an admin uses it: settings whose SMTP password goes in and never comes
 * back out, webhooks with a secret shown once, clear 400s for bad input, a test send, the outbox,
 * and tenants that cannot see each other's settings.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/secrets/envelope.js';
import { createTestApp, type SignedIn, type TestApp } from '../../src/http/testing.js';
import { notificationRoutes } from '../../src/http/routes/notification-routes.js';
import { createOutboundPolicy } from '../../src/net/outbound-policy.js';
import { createNotifier } from '../../src/notify/notifier.js';
import { notifyDb } from '../../src/notify/db.js';
import { verifyWebhookSignature } from '../../src/notify/verify-signature.js';
import { pino } from 'pino';
import { grantSummary, startReceiver } from './support.js';

const PASSWORD = 'smtp-Secret-7f3k!do-not-show';
const secrets = createSecretBox(randomBytes(32));
let t: TestApp;
let alice: SignedIn; // admin of acme
let rita: SignedIn; // requester of acme
let bob: SignedIn; // owner of globex
let receiver: Awaited<ReturnType<typeof startReceiver>>;

const as = (who: SignedIn) => ({ authorization: `Bearer ${who.token}` });
const call = (who: SignedIn, method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, payload?: object) =>
  t.request({ method, url, headers: as(who), ...(payload ? { payload } : {}) });
const settingsUrl = (tenant: string) => `/api/v1/tenants/${tenant}/settings/notifications`;
const smtp = { host: 'smtp.acme.test', port: 587, username: 'timebox', password: PASSWORD, from: 'timebox@acme.test' };

beforeAll(async () => {
  t = await createTestApp({
    // db, audit and clock are the test app's own, read from the server once it exists.
    routes: [(app) => notificationRoutes({ db: app.deps.db, audit: app.deps.audit, clock: app.deps.clock, secrets, outbound: createOutboundPolicy({ allow: 'loopback' }) })(app)],
  });
  receiver = await startReceiver((n) => (n === 2 ? 500 : 200));
  const root = await t.login(t.admin.email, t.admin.password);
  const post = (url: string, payload: object) => call(root, 'POST', url, payload);
  for (const slug of ['acme', 'globex']) expect((await post('/api/v1/tenants', { slug, name: slug.toUpperCase() })).statusCode).toBe(201);
  const add = (tenant: string, email: string, roles: string[]) => t.addMember(root, tenant, email, roles);
  alice = await add('acme', 'alice@acme.test', ['admin']);
  rita = await add('acme', 'rita@acme.test', ['requester']);
  bob = await add('globex', 'bob@globex.test', ['owner']);
});
afterAll(async () => {
  await receiver?.close();
  await t?.close();
});

describe('notification settings', () => {
  it('start empty, with the default expiry warning of 15 minutes', async () => {
    const res = await call(alice, 'GET', settingsUrl('acme'));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ smtp: null, expiryWarningSeconds: 900, updatedAt: null });
  });

  it('store the SMTP password encrypted and never return it', async () => {
    const put = await call(alice, 'PUT', settingsUrl('acme'), { smtp, expiryWarningSeconds: 600 });
    expect(put.statusCode).toBe(200);
    const expected = {
      smtp: { host: 'smtp.acme.test', port: 587, secure: false, requireTls: true, username: 'timebox', from: 'timebox@acme.test', passwordSet: true },
      expiryWarningSeconds: 600,
      updatedAt: expect.any(String),
    };
    expect(put.json()).toEqual(expected);
    expect((await call(alice, 'GET', settingsUrl('acme'))).json()).toEqual(expected);

    // Saving again without a password keeps the stored one, as long as it would go where it went.
    const { password: _, ...withoutPassword } = smtp;
    expect((await call(alice, 'PUT', settingsUrl('acme'), { smtp: { ...withoutPassword, from: 'jit@acme.test' } })).json()).toMatchObject({
      smtp: { port: 587, from: 'jit@acme.test', passwordSet: true },
      expiryWarningSeconds: 600,
    });
    // Another port (and TLS mode) decides where the password goes: it must be given again.
    const moved = await call(alice, 'PUT', settingsUrl('acme'), { smtp: { ...withoutPassword, port: 465 } });
    expect(moved.statusCode).toBe(400);
    expect(moved.json().error.message).toBe(
      'smtp.password must be given again: changing smtp.port, smtp.secure decides where the stored password (and every message) would be sent',
    );

    const stored = await notifyDb(t.db).selectFrom('tenant_notification_settings').selectAll().execute();
    expect(stored[0]!.smtp_password_enc).toMatch(/^tb1\./);
    const audit = await t.db.selectFrom('audit_events').selectAll().where('action', '=', 'notifications.settings_updated').execute();
    expect(audit).toHaveLength(2);
    for (const where of [t.seen.join('\n'), JSON.stringify(stored), JSON.stringify(audit)]) expect(where).not.toContain(PASSWORD);
  });

  it('refuse bad SMTP settings with messages that say what to fix', async () => {
    const bad = async (body: object) => {
      const res = await call(alice, 'PUT', settingsUrl('acme'), body);
      expect(res.statusCode).toBe(400);
      return res.json().error.message as string;
    };
    expect(await bad({ smtp: { ...smtp, port: 70000 } })).toBe('SMTP › port must be a port number between 1 and 65535.');
    expect(await bad({ smtp: { ...smtp, port: '25' } })).toBe('SMTP › port must be a port number between 1 and 65535.');
    expect(await bad({ smtp: { ...smtp, host: 'smtp://mail.acme.test:25' } })).toBe(
      'SMTP › host must be a host name or IP address without scheme or port, such as smtp.example.com.',
    );
    expect(await bad({ smtp: { ...smtp, from: 'not an address' } })).toBe('SMTP › from must be an email address such as timebox@example.com.');
    expect(await bad({ smtp: { ...smtp, requireTls: false } })).toMatch(
      /^SMTP › require TLS may be false with a username only for a relay on this host/,
    );
    expect(await bad({ smtp: null, expiryWarningSeconds: 5 })).toBe('Expiry warning must be at least 60 seconds.');
  });

  it('are for admins: a requester gets 403, another tenant gets 404 as if it did not exist', async () => {
    expect((await call(rita, 'GET', settingsUrl('acme'))).statusCode).toBe(403);
    for (const [method, url, body] of [
      ['GET', settingsUrl('acme'), undefined],
      ['PUT', settingsUrl('acme'), { smtp: null }],
      ['GET', '/api/v1/tenants/acme/webhooks', undefined],
      ['POST', '/api/v1/tenants/acme/webhooks', { name: 'x', url: `${receiver.base}/x`, format: 'generic', events: ['break_glass'] }],
      ['GET', '/api/v1/tenants/acme/notifications', undefined],
    ] as const) {
      const res = await call(bob, method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json()).toEqual({ error: { code: 'not_found', message: 'tenant acme not found' } });
    }
    expect((await call(alice, 'GET', settingsUrl('acme'))).json().smtp.host).toBe('smtp.acme.test');
  });
});

describe('webhooks', () => {
  let hookId: string;
  let secret: string;

  it('are created with a signing secret shown once, and listed without it (URL redacted)', async () => {
    const res = await call(alice, 'POST', '/api/v1/tenants/acme/webhooks', {
      name: 'ops chat',
      url: `${receiver.base}/services/T0/B0/token-in-path`,
      format: 'slack',
      events: ['break_glass', 'revoke_failed'],
    });
    expect(res.statusCode).toBe(201);
    ({ secret } = res.json());
    hookId = res.json().webhook.id;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const list = await call(alice, 'GET', '/api/v1/tenants/acme/webhooks');
    expect(list.json()).toEqual({
      items: [{ id: hookId, name: 'ops chat', url: `${receiver.base}/services/…`, format: 'slack', events: ['break_glass', 'revoke_failed'], enabled: true, createdAt: expect.any(String) }],
    });
    expect(list.body).not.toContain(secret);
    expect(list.body).not.toContain('token-in-path');
    const audit = await t.db.selectFrom('audit_events').selectAll().where('action', '=', 'webhook.created').execute();
    expect(JSON.stringify(audit)).not.toContain(secret);
    expect(JSON.stringify(audit)).not.toContain('token-in-path');
  });

  it('refuse unsafe URLs with clear messages', async () => {
    const bad = async (url: string) => {
      const res = await call(alice, 'POST', '/api/v1/tenants/acme/webhooks', { name: 'bad', url, format: 'generic', events: ['break_glass'] });
      expect(res.statusCode).toBe(400);
      return res.json().error.message as string;
    };
    expect(await bad('ftp://files.acme.test/hook')).toBe('URL must use https (the ftp scheme is not allowed).');
    expect(await bad('javascript:alert(1)')).toBe('URL must use https (the javascript scheme is not allowed).');
    expect(await bad('https://user:pass@hooks.acme.test/x')).toBe(
      'URL must not contain credentials (user:password@); the webhook secret signs every request instead.',
    );
    expect(await bad('http://hooks.acme.test/x')).toBe(
      'URL must use https; plain http is allowed only to an internal address the server operator allows.',
    );
    expect(await bad('https://169.254.169.254/latest/meta-data')).toBe(
      'url must not point to a link-local address (169.254.169.254) unless the server operator allows it',
    );
  });

  it('send a signed test event on demand and report the receiver answer', async () => {
    const ok = await call(alice, 'POST', `/api/v1/tenants/acme/webhooks/${hookId}/test`);
    expect(ok.json()).toEqual({ delivered: true, status: 200, error: null });
    const failing = await call(alice, 'POST', `/api/v1/tenants/acme/webhooks/${hookId}/test`);
    expect(failing.json()).toEqual({ delivered: false, status: 500, error: `${receiver.base} answered HTTP 500` });
    const q = receiver.requests[0]!;
    expect(q.headers['x-timebox-event']).toBe('test');
    expect(verifyWebhookSignature(secret, q.headers['x-timebox-signature'] as string, q.rawBody, t.clock.now())).toBe(true);
    expect(JSON.parse(q.rawBody).text).toBe('[Timebox: ACME] Test notification');
  });

  it("cannot be tested or deleted through another tenant's path", async () => {
    expect((await call(bob, 'POST', `/api/v1/tenants/globex/webhooks/${hookId}/test`)).statusCode).toBe(404);
    expect((await call(bob, 'DELETE', `/api/v1/tenants/globex/webhooks/${hookId}`)).statusCode).toBe(404);
    expect((await call(alice, 'DELETE', `/api/v1/tenants/acme/webhooks/${hookId}`)).statusCode).toBe(204);
    expect((await call(alice, 'GET', '/api/v1/tenants/acme/webhooks')).json()).toEqual({ items: [] });
  });
});

describe('the outbox', () => {
  it('shows admins each message with its status and last error, page by page', async () => {
    const globex = await t.db.selectFrom('tenants').select('id').where('slug', '=', 'globex').executeTakeFirstOrThrow();
    const notifier = createNotifier({ db: t.db, secrets, clock: t.clock, log: pino({ level: 'silent' }) });
    await t.db.transaction().execute(async (tx) => {
      for (const type of ['grant_activated', 'review_owed'] as const) {
        await notifier.enqueue(tx, globex.id, { type, grant: grantSummary() }, { operatorIds: [bob.operatorId] });
      }
    });
    const first = await call(bob, 'GET', '/api/v1/tenants/globex/notifications?status=failed&limit=1');
    expect(first.statusCode).toBe(200);
    expect(first.json().items).toEqual([
      {
        id: expect.any(String),
        channel: 'email',
        recipient: 'bob@globex.test',
        event: expect.stringMatching(/^(grant_activated|review_owed)$/),
        subject: expect.stringMatching(/^\[Timebox: GLOBEX\] /),
        status: 'failed',
        attempts: 0,
        lastError: 'no SMTP settings for this tenant',
        nextAttemptAt: null,
        createdAt: expect.any(String),
        sentAt: null,
      },
    ]);
    const second = await call(bob, 'GET', `/api/v1/tenants/globex/notifications?status=failed&limit=1&cursor=${first.json().nextCursor}`);
    expect(second.json().items).toHaveLength(1);
    expect(second.json().items[0].id).not.toBe(first.json().items[0].id);
    expect(second.json().nextCursor).toBeNull();
    expect((await call(bob, 'GET', '/api/v1/tenants/globex/notifications?status=sent')).json()).toEqual({ items: [], nextCursor: null });
    expect((await call(alice, 'GET', '/api/v1/tenants/acme/notifications')).json().items).toEqual([]);
  });
});
