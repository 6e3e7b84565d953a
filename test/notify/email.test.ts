/**
 * Email notifications end to end: queued in the caller's transaction, delivered by the
 * dispatcher through the tenant's own SMTP relay (a real SMTP server on 127.0.0.1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotificationDispatcher } from '../../src/notify/dispatcher.js';
import { createNotifier, NO_SMTP_SETTINGS } from '../../src/notify/notifier.js';
import { notifyDb } from '../../src/notify/db.js';
import { saveNotificationSettings } from '../../src/notify/settings.js';
import type { NotificationQueue } from '../../src/app/deps.js';
import { createNotifyKit, grantSummary, startSmtpSink } from './support.js';

const SMTP_PASSWORD = 'relay-pass-Zq8w!never-in-mail';
let kit: Awaited<ReturnType<typeof createNotifyKit>>;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
const system = { type: 'system' as const, id: null };

beforeAll(async () => {
  kit = await createNotifyKit();
  smtp = await startSmtpSink({ username: 'timebox', password: SMTP_PASSWORD }, (address) => address.startsWith('left@'));
});
afterAll(async () => {
  await smtp?.close();
  await kit?.close();
});

function setup() {
  const notifier = createNotifier(kit);
  const dispatcher = createNotificationDispatcher({ ...kit, workerId: 'email-test' });
  return { notifier, dispatcher };
}

async function tenantWithSmtp(name: string) {
  const tenant = await kit.seedTenant(name);
  await saveNotificationSettings(kit, system, tenant.id, {
    smtp: { host: '127.0.0.1', port: smtp.port, requireTls: false, username: 'timebox', password: SMTP_PASSWORD, from: 'timebox@acme.test' },
  });
  return tenant;
}

const rowsOf = (tenantId: string) =>
  notifyDb(kit.db).selectFrom('notifications').selectAll().where('tenant_id', '=', tenantId).orderBy('recipient').execute();

describe('email notifications', () => {
  it('fits the NotificationQueue slot of AppDeps', () => {
    const queue: NotificationQueue = createNotifier(kit);
    expect(typeof queue.enqueue).toBe('function');
  });

  it('sends one email per recipient, with the subject and body people need, through the tenant relay', async () => {
    const { notifier, dispatcher } = setup();
    const tenant = await tenantWithSmtp('Acme');
    const ana = await kit.seedOperator(tenant.id, 'ana@acme.test');
    const ben = await kit.seedOperator(tenant.id, 'ben@acme.test');
    const gone = await kit.seedOperator(tenant.id, 'gone@acme.test', { disabled: true });
    const outsider = await kit.seedOperator(null, 'eve@elsewhere.test');
    const grant = grantSummary();

    await kit.db.transaction().execute((tx) =>
      notifier.enqueue(tx, tenant.id, { type: 'approval_requested', grant, level: 1, quorum: 1, approverIds: [ana.id, ben.id] }, {
        operatorIds: [ana.id, ben.id, ben.id, gone.id, outsider.id],
      }),
    );
    expect(await dispatcher.drain()).toBe(2);

    const mine = smtp.received.filter((m) => m.to.some((t) => t.endsWith('@acme.test')) && m.text.includes(grant.id));
    expect(mine.map((m) => m.to)).toEqual(expect.arrayContaining([['ana@acme.test'], ['ben@acme.test']]));
    expect(mine).toHaveLength(2);
    for (const m of mine) {
      expect(m.from).toBe('timebox@acme.test');
      expect(m.subject).toBe('[Timebox: Acme] Approval needed: rita@acme.test asks for access to prod-db');
      expect(m.text).toContain('Your approval is requested (level 1): rita@acme.test asks for access to prod-db.');
      expect(m.text).toContain('Reason:       INC-1234: fix the broken index');
      expect(m.text).toContain('Duration:     2 h');
      expect(m.raw).toMatch(/^Auto-Submitted: auto-generated/m);
      // The relay password is used to log in, and appears nowhere in what was sent.
      expect(m.raw).not.toContain(SMTP_PASSWORD);
      expect(m.raw).not.toContain(Buffer.from(SMTP_PASSWORD).toString('base64'));
    }
    expect(smtp.logins.length).toBeGreaterThanOrEqual(2);
    const rows = await rowsOf(tenant.id);
    expect(rows.map((r) => [r.recipient, r.status, r.attempts, r.last_error])).toEqual([
      ['ana@acme.test', 'sent', 1, null],
      ['ben@acme.test', 'sent', 1, null],
    ]);
    expect(JSON.stringify(rows)).not.toContain(SMTP_PASSWORD);
    const audit = await kit.db.selectFrom('audit_events').selectAll().execute();
    expect(JSON.stringify(audit)).not.toContain(SMTP_PASSWORD);
    expect(audit.find((a) => a.action === 'notifications.settings_updated' && a.tenant_id === tenant.id)?.after).toMatchObject({
      smtp: { host: '127.0.0.1', passwordSet: true },
      passwordChanged: true,
    });
  });

  it('requires TLS by default: a relay that offers none never sees the password or the message', async () => {
    const { notifier, dispatcher } = setup();
    const tenant = await kit.seedTenant('Strict');
    await saveNotificationSettings(kit, system, tenant.id, {
      smtp: { host: '127.0.0.1', port: smtp.port, username: 'timebox', password: SMTP_PASSWORD, from: 'timebox@strict.test' },
    });
    const ana = await kit.seedOperator(tenant.id, 'ana@strict.test');
    const logins = smtp.logins.length;
    const received = smtp.received.length;

    await kit.db.transaction().execute((tx) => notifier.enqueue(tx, tenant.id, { type: 'grant_activated', grant: grantSummary() }, { operatorIds: [ana.id] }));
    await dispatcher.drain();

    const [row] = await rowsOf(tenant.id);
    expect(row).toMatchObject({ status: 'pending', attempts: 1 });
    expect(row!.last_error).toMatch(/^SMTP 127\.0\.0\.1:\d+: .*STARTTLS/i);
    expect(row!.last_error).not.toContain(SMTP_PASSWORD);
    expect(smtp.logins.length).toBe(logins);
    expect(smtp.received.length).toBe(received);
  });

  it('marks a recipient the relay refuses (550) as failed at once, without retrying', async () => {
    const { notifier, dispatcher } = setup();
    const tenant = await tenantWithSmtp('Umbrella');
    const left = await kit.seedOperator(tenant.id, 'left@umbrella.test');

    await kit.db.transaction().execute((tx) => notifier.enqueue(tx, tenant.id, { type: 'review_owed', grant: grantSummary() }, { operatorIds: [left.id] }));
    await dispatcher.drain();

    const [row] = await rowsOf(tenant.id);
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    // The reply code, never the relay's own words.
    expect(row!.last_error).toMatch(/^SMTP 127\.0\.0\.1:\d+: recipient refused \(SMTP 550\)$/);
  });

  it('records emails of a tenant without SMTP settings as failed, with a clear message, and never throws', async () => {
    const { notifier, dispatcher } = setup();
    const tenant = await kit.seedTenant('Initech');
    const ana = await kit.seedOperator(tenant.id, 'ana@initech.test');
    const before = smtp.received.length;

    await kit.db.transaction().execute((tx) =>
      notifier.enqueue(tx, tenant.id, { type: 'grant_activated', grant: grantSummary() }, { operatorIds: [ana.id] }),
    );
    await dispatcher.drain();

    expect((await rowsOf(tenant.id)).map((r) => [r.recipient, r.status, r.last_error])).toEqual([
      ['ana@initech.test', 'failed', NO_SMTP_SETTINGS],
    ]);
    expect(NO_SMTP_SETTINGS).toBe('no SMTP settings for this tenant');
    expect(smtp.received.length).toBe(before);
  });

  it('leaves no message behind when the decision it reports is rolled back', async () => {
    const { notifier, dispatcher } = setup();
    const tenant = await tenantWithSmtp('Globex');
    const ana = await kit.seedOperator(tenant.id, 'ana@globex.test');

    await expect(
      kit.db.transaction().execute(async (tx) => {
        await notifier.enqueue(tx, tenant.id, { type: 'review_owed', grant: grantSummary() }, { operatorIds: [ana.id] });
        throw new Error('the approval could not be saved');
      }),
    ).rejects.toThrow('the approval could not be saved');

    expect(await rowsOf(tenant.id)).toEqual([]);
    expect(await dispatcher.drain()).toBe(0);
  });

  it('refuses a malformed event loudly, naming the field', async () => {
    const { notifier } = setup();
    const tenant = await kit.seedTenant('Hooli');
    const bad = { type: 'expiry_warning', grant: grantSummary() } as never;
    await expect(kit.db.transaction().execute((tx) => notifier.enqueue(tx, tenant.id, bad, { operatorIds: [] }))).rejects.toThrow(
      /^malformed notification event expiry_warning: minutesLeft: /,
    );
  });
});
