/**
 * The scheduler's claim also answers when the next unleased item falls due (it aims the one timer
 * with it instead of asking again): what it claimed, and what another worker holds, are not that.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { fakeConnector } from '../../src/connectors/fake/fake-connector.js';
import { addTarget } from '../../src/app/targets.js';
import { createPolicy } from '../../src/app/policies.js';
import { requestAccess } from '../../src/app/request-access.js';
import { claimDueWorkAndNext, nextDueAt } from '../../src/scheduler/work-queue.js';
import { createAppKit } from '../support/app-kit.js';

let kit: Awaited<ReturnType<typeof createAppKit>>;
beforeAll(async () => {
  kit = await createAppKit({ connectors: [fakeConnector] });
});
afterAll(async () => kit?.close());

describe('claiming due work', () => {
  it('says when the next item left falls due, leaving out what it claimed and what is leased', async () => {
    const tenantId = await kit.seedTenant();
    const admin = await kit.seedOperator(tenantId, `admin-${randomUUID().slice(0, 6)}@example.com`, ['admin']);
    const actor = { type: 'operator' as const, id: admin.operatorId };
    const { target } = await addTarget(kit.deps, actor, tenantId, { name: 'db1', kind: 'fake', config: { instance: randomUUID(), entitlements: ['readers'] } });
    await createPolicy(kit.deps, actor, tenantId, {
      name: 'default', requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, reasonMinLength: 0, rules: { maxScheduleAheadDays: 1 },
    });
    const t0 = kit.clock.now().getTime();
    const startAt = (minutes: number) => new Date(t0 + minutes * 60_000);
    // Three approved grants starting later: their activations are due at 5, 10 and 15 minutes.
    for (const minutes of [10, 5, 15]) {
      const who = await kit.seedOperator(tenantId, `p${minutes}-${randomUUID().slice(0, 6)}@example.com`, ['requester']);
      const g = await requestAccess(kit.deps, { type: 'operator', id: who.operatorId }, tenantId, who, {
        targetId: target.id, entitlements: ['readers'], reason: 'later', startAt: startAt(minutes),
      });
      expect(g.state).toBe('approved');
    }
    const claim = (minutes: number, workerId = 'w1', limit = 10) =>
      claimDueWorkAndNext(kit.store.db, { workerId, now: startAt(minutes), limit, leaseMs: 60 * 60_000 });

    // Nothing due yet: the next is the earliest start.
    let r = await claim(0);
    expect(r.items).toHaveLength(0);
    expect(r.nextDueAt).toEqual(startAt(5));
    expect(r.nextDueAt).toEqual(await nextDueAt(kit.store.db, startAt(0)));

    // At 12 minutes two are due: both claimed, the next is the one left.
    r = await claim(12);
    expect(r.items.map((i) => i.dueAt)).toEqual([startAt(5), startAt(10)]);
    expect(r.nextDueAt).toEqual(startAt(15));
    expect(r.nextDueAt).toEqual(await nextDueAt(kit.store.db, startAt(12)));

    // The last one claimed by another worker: nothing unleased is left.
    r = await claim(16, 'w2', 1);
    expect(r.items).toHaveLength(1);
    expect(r.nextDueAt).toBeNull();
    expect(await nextDueAt(kit.store.db, startAt(16))).toBeNull();
  });
});
