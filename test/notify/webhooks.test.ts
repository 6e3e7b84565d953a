/**
 * Webhook notifications end to end: real HTTP listeners on 127.0.0.1 receive Slack, Teams and
 * generic documents whose signatures verify; failures are retried with backoff on a fake clock
 * (no waiting) and give up, visibly, after eight attempts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifyDb } from '../../src/notify/db.js';
import { createNotificationDispatcher } from '../../src/notify/dispatcher.js';
import type { NotificationEvent } from '../../src/notify/events.js';
import { createNotifier } from '../../src/notify/notifier.js';
import { verifyWebhookSignature } from '../../src/notify/verify-signature.js';
import { createWebhook, type WebhookInput } from '../../src/notify/webhooks.js';
import { createNotifyKit, grantSummary, startReceiver } from './support.js';

let kit: Awaited<ReturnType<typeof createNotifyKit>>;
const receivers: Awaited<ReturnType<typeof startReceiver>>[] = [];
const admin = { type: 'system' as const, id: null };

beforeAll(async () => {
  kit = await createNotifyKit();
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await kit?.close();
});

async function receiver(status?: (n: number) => number) {
  const r = await startReceiver(status);
  receivers.push(r);
  return r;
}

const hook = (name: string, url: string, over: Partial<WebhookInput> = {}): WebhookInput => ({
  name,
  url,
  format: 'generic',
  events: ['grant_activated', 'break_glass'],
  ...over,
});

async function queue(tenantId: string, event: NotificationEvent) {
  await kit.db.transaction().execute((tx) => createNotifier(kit).enqueue(tx, tenantId, event, { operatorIds: [] }));
}

const rowsOf = (tenantId: string) => notifyDb(kit.db).selectFrom('notifications').selectAll().where('tenant_id', '=', tenantId).execute();

describe('webhook notifications', () => {
  it('posts Slack, Teams and generic documents, each signed with its own secret, to subscribed webhooks only', async () => {
    const r = await receiver();
    const tenant = await kit.seedTenant('Acme');
    const slack = await createWebhook(kit, admin, tenant.id, hook('chat', `${r.base}/slack`, { format: 'slack' }));
    const teams = await createWebhook(kit, admin, tenant.id, hook('teams', `${r.base}/teams`, { format: 'teams' }));
    const generic = await createWebhook(kit, admin, tenant.id, hook('siem', `${r.base}/generic`));
    await createWebhook(kit, admin, tenant.id, hook('off', `${r.base}/disabled`, { enabled: false }));
    await createWebhook(kit, admin, tenant.id, hook('reviews', `${r.base}/unsubscribed`, { events: ['review_owed'] }));
    const grant = grantSummary({ expiresAt: '2026-03-01T11:00:00.000Z' });

    await queue(tenant.id, { type: 'break_glass', grant });
    expect(await kit.dispatcherFor('hooks-1').drain()).toBe(3);

    const byPath = new Map(r.requests.map((q) => [q.path, q]));
    expect([...byPath.keys()].sort()).toEqual(['/generic', '/slack', '/teams']);
    for (const [path, created] of [['/slack', slack], ['/teams', teams], ['/generic', generic]] as const) {
      const q = byPath.get(path)!;
      expect(q.headers['content-type']).toBe('application/json');
      expect(q.headers['x-timebox-event']).toBe('break_glass');
      expect(q.headers['x-timebox-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifyWebhookSignature(created.secret, q.headers['x-timebox-signature'] as string, q.rawBody, kit.clock.now())).toBe(true);
      // Another webhook's secret does not verify it: each receiver checks its own.
      expect(verifyWebhookSignature(created === slack ? teams.secret : slack.secret, q.headers['x-timebox-signature'] as string, q.rawBody, kit.clock.now())).toBe(false);
      expect(q.rawBody).not.toContain(created.secret);
    }
    const subject = '[Timebox: Acme] BREAK-GLASS: rita@acme.test took emergency access to prod-db';
    expect(JSON.parse(byPath.get('/slack')!.rawBody)).toEqual({
      text: subject,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: expect.stringContaining('used break-glass access to prod-db, without approval') } }],
    });
    expect(JSON.parse(byPath.get('/teams')!.rawBody)).toMatchObject({
      '@type': 'MessageCard',
      '@context': 'https://schema.org/extensions',
      summary: subject,
      title: subject,
      text: expect.stringContaining('Stated reason: INC-1234: fix the broken index'),
    });
    expect(JSON.parse(byPath.get('/generic')!.rawBody)).toMatchObject({
      event: 'break_glass',
      tenant: { id: tenant.id, slug: tenant.slug },
      grant,
      at: '2026-03-01T09:00:00.000Z',
    });
    expect((await rowsOf(tenant.id)).map((x) => x.status)).toEqual(['sent', 'sent', 'sent']);
  });

  it('retries a receiver that fails twice and delivers on the third attempt, after the backoff', async () => {
    const r = await receiver((n) => (n <= 2 ? 500 : 200));
    const tenant = await kit.seedTenant('Flaky');
    const created = await createWebhook(kit, admin, tenant.id, hook('flaky', `${r.base}/hook`));
    await queue(tenant.id, { type: 'grant_activated', grant: grantSummary() });
    const dispatcher = kit.dispatcherFor('hooks-2');

    expect(await dispatcher.drain()).toBe(1);
    expect(r.requests).toHaveLength(1);
    let [row] = await rowsOf(tenant.id);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_error: `${r.base} answered HTTP 500` });
    // Not due yet: the first retry comes 5 s later (the jitter is pinned to its maximum here).
    expect(row!.next_attempt_at).toEqual(new Date(kit.clock.now().getTime() + 5_000));
    expect(await dispatcher.drain()).toBe(0);

    kit.clock.advance(5_000);
    expect(await dispatcher.drain()).toBe(1);
    kit.clock.advance(10_000);
    expect(await dispatcher.drain()).toBe(1);

    expect(r.requests.map((q) => q.headers['x-timebox-delivery'])).toEqual([row!.id, row!.id, row!.id]);
    for (const q of r.requests) {
      expect(verifyWebhookSignature(created.secret, q.headers['x-timebox-signature'] as string, q.rawBody, kit.clock.now())).toBe(true);
    }
    [row] = await rowsOf(tenant.id);
    expect(row).toMatchObject({ status: 'sent', attempts: 3, last_error: null, sent_at: kit.clock.now() });
  });

  it('gives up after 8 failed attempts and shows why', async () => {
    const r = await receiver(() => 503);
    const tenant = await kit.seedTenant('Down');
    await createWebhook(kit, admin, tenant.id, hook('down', `${r.base}/hook`));
    await queue(tenant.id, { type: 'grant_activated', grant: grantSummary() });
    const dispatcher = kit.dispatcherFor('hooks-3');

    for (let i = 0; i < 10; i++) {
      await dispatcher.drain();
      kit.clock.advance(10 * 60_000);
    }
    expect(r.requests).toHaveLength(8);
    const [row] = await rowsOf(tenant.id);
    expect(row).toMatchObject({ status: 'failed', attempts: 8, last_error: `${r.base} answered HTTP 503 (gave up after 8 attempts)` });
  });

  it('does not retry what cannot succeed: a refusal (404) or a redirect fails at once', async () => {
    const gone = await receiver(() => 404);
    const moved = await receiver(() => 301);
    const tenant = await kit.seedTenant('Moved');
    await createWebhook(kit, admin, tenant.id, hook('gone', `${gone.base}/hook`));
    await createWebhook(kit, admin, tenant.id, hook('moved', `${moved.base}/hook`));
    await queue(tenant.id, { type: 'grant_activated', grant: grantSummary() });

    await kit.dispatcherFor('hooks-4').drain();
    const rows = await rowsOf(tenant.id);
    expect(rows).toHaveLength(2);
    expect(rows.map((x) => [x.status, x.attempts, x.last_error])).toEqual(
      expect.arrayContaining([
        ['failed', 1, `${gone.base} answered HTTP 404`],
        ['failed', 1, `${moved.base} answered HTTP 301 (a redirect); redirects are not followed, use the final URL`],
      ]),
    );
  });

  it('waits for a receiver that never answers only up to the timeout, then retries later', async () => {
    const r = await receiver(() => 0);
    const tenant = await kit.seedTenant('Hangs');
    await createWebhook(kit, admin, tenant.id, hook('hangs', `${r.base}/hook`));
    await queue(tenant.id, { type: 'grant_activated', grant: grantSummary() });
    // 10 s in production; shortened so the test shows the bound without waiting for it.
    const dispatcher = createNotificationDispatcher({ ...kit, workerId: 'hooks-6', random: () => 1, webhookTimeoutMs: 200 });

    expect(await dispatcher.drain()).toBe(1);
    expect(r.requests).toHaveLength(1);
    const [row] = await rowsOf(tenant.id);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_error: `could not deliver to ${r.base}: no answer within 0.2 s` });
  });

  it('delivers on its own once started (one timer, no drain), and stops cleanly', async () => {
    const r = await receiver();
    const tenant = await kit.seedTenant('Live');
    await createWebhook(kit, admin, tenant.id, hook('live', `${r.base}/hook`));
    const dispatcher = kit.dispatcherFor('hooks-5');
    dispatcher.start();
    await queue(tenant.id, { type: 'grant_activated', grant: grantSummary() });
    dispatcher.poke();
    await r.waitFor(1);
    await dispatcher.stop();
    expect((await rowsOf(tenant.id)).map((x) => x.status)).toEqual(['sent']);
  });
});
