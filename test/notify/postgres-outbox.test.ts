/**
 * On PostgreSQL, several servers share one outbox: two dispatchers draining at the same time
 * deliver every message exactly once (FOR UPDATE SKIP LOCKED plus leases), and a dispatcher
 * that restarts takes back the messages its previous life had claimed.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { notifyDb } from '../../src/notify/db.js';
import { createNotifier } from '../../src/notify/notifier.js';
import { claimDueNotifications } from '../../src/notify/outbox.js';
import { createWebhook } from '../../src/notify/webhooks.js';
import { openStore, type Store } from '../../src/store/db.js';
import { createNotifyKit, grantSummary, startReceiver } from './support.js';

const MESSAGES = 40;
let database: TestDatabase;
let store: Store;
let kit: Awaited<ReturnType<typeof createNotifyKit>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  store = await openStore({ databaseUrl: database.url, poolSize: 6 });
  kit = await createNotifyKit({ store });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await store?.close();
  await database?.drop();
});

describe('a shared PostgreSQL outbox', () => {
  it('delivers each message once when two dispatchers drain at the same time', async () => {
    const tenant = await kit.seedTenant('Shared');
    await createWebhook(kit, { type: 'system', id: null }, tenant.id, { name: 'siem', url: `${receiver.base}/hook`, format: 'generic', events: ['grant_activated'] });
    const notifier = createNotifier(kit);
    await kit.db.transaction().execute(async (tx) => {
      for (let i = 0; i < MESSAGES; i++) await notifier.enqueue(tx, tenant.id, { type: 'grant_activated', grant: grantSummary() }, { operatorIds: [] });
    });

    const [a, b] = await Promise.all([kit.dispatcherFor('server-a').drain(), kit.dispatcherFor('server-b').drain()]);
    expect(a + b).toBe(MESSAGES);
    // Both took a share: the claims really ran side by side.
    expect(Math.min(a, b)).toBeGreaterThan(0);
    const ids = receiver.requests.map((q) => q.headers['x-timebox-delivery']);
    expect(ids).toHaveLength(MESSAGES);
    expect(new Set(ids).size).toBe(MESSAGES);
    const rows = await notifyDb(kit.db).selectFrom('notifications').select(['status', 'attempts']).where('tenant_id', '=', tenant.id).execute();
    expect(rows.every((r) => r.status === 'sent' && r.attempts === 1)).toBe(true);
  });

  it('takes back on start what a crashed life of the same worker had claimed', async () => {
    const tenant = await kit.seedTenant('Crash');
    await createWebhook(kit, { type: 'system', id: null }, tenant.id, { name: 'siem', url: `${receiver.base}/crash`, format: 'generic', events: ['review_owed'] });
    await kit.db.transaction().execute((tx) => createNotifier(kit).enqueue(tx, tenant.id, { type: 'review_owed', grant: grantSummary() }, { operatorIds: [] }));
    // The previous life claimed it and died before delivering: its lease still runs for minutes.
    expect(await claimDueNotifications(kit.db, { workerId: 'server-c', now: kit.clock.now(), limit: 10, leaseMs: 600_000 })).toHaveLength(1);
    expect(await kit.dispatcherFor('server-d').drain()).toBe(0);

    const before = receiver.requests.length;
    const restarted = kit.dispatcherFor('server-c');
    restarted.start();
    await receiver.waitFor(before + 1);
    await restarted.stop();
    expect(receiver.requests.at(-1)!.path).toBe('/crash');
    const row = await notifyDb(kit.db).selectFrom('notifications').selectAll().where('tenant_id', '=', tenant.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'sent', attempts: 2, locked_by: null });
  });
});
