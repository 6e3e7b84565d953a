/**
 * What /metrics reports about one grant's life, on a real embedded store with a fake clock (so
 * every duration is exact): the due revocation in the scheduler gauges, the overdue gauge, a
 * failed attempt and its retry, and the expiry lag from the end to the verified revocation.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { fakeConnector, fakeTargetState } from '../../src/connectors/fake/fake-connector.js';
import { addTarget } from '../../src/app/targets.js';
import { createPolicy } from '../../src/app/policies.js';
import { requestAccess } from '../../src/app/request-access.js';
import { getGrant } from '../../src/app/grants.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { createAppKit } from '../support/app-kit.js';

let kit: Awaited<ReturnType<typeof createAppKit>>;
let metrics: Metrics;

beforeAll(async () => {
  kit = await createAppKit({ connectors: [fakeConnector], retry: { maxAttempts: 3, baseMs: 1000, maxMs: 4000, slowRetryMs: 60_000 } });
  metrics = createMetrics({ db: kit.store.db, clock: kit.clock, log: pino({ level: 'silent' }), statementTimeout: false });
  kit.deps.metrics = metrics.recorder;
});
afterAll(async () => kit?.close());

/** The value of one sample line of the exposition (`name{labels} value`). */
async function sample(line: string): Promise<number | undefined> {
  const { body } = await metrics.scrape();
  const found = body.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

it('records activation, the overdue revocation, a failed attempt, its retry and the exact expiry lag', async () => {
  const tenantId = await kit.seedTenant();
  const admin = await kit.seedOperator(tenantId, `admin-${randomUUID().slice(0, 6)}@example.com`, ['admin']);
  const alice = await kit.seedOperator(tenantId, `alice${randomUUID().slice(0, 4)}@example.com`, ['requester']);
  const actor = { type: 'operator' as const, id: admin.operatorId };
  const instance = randomUUID();
  const { target } = await addTarget(kit.deps, actor, tenantId, { name: 'db1', kind: 'fake', config: { instance, entitlements: ['readers'] } });
  await createPolicy(kit.deps, actor, tenantId, { name: 'p', requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, reasonMinLength: 3 });
  const aliceActor = { type: 'operator' as const, id: alice.operatorId };
  const grant = await requestAccess(kit.deps, aliceActor, tenantId, alice, { targetId: target.id, entitlements: ['readers'], durationSeconds: 600, reason: 'metrics' });
  await kit.scheduler.drain();
  expect((await getGrant(kit.deps, tenantId, alice, grant.id)).state).toBe('active');
  expect(await sample('timebox_activation_latency_seconds_count{target_kind="fake"}')).toBe(1);
  expect(await sample('timebox_grants{state="active",target_kind="fake"}')).toBe(1);
  expect(await sample('timebox_overdue_revocations')).toBe(0);
  expect(await sample('timebox_scheduler_queue_depth')).toBe(0);

  // 250 ms past the end, before the scheduler has run: overdue, and its work waits that long.
  kit.clock.advance(600_250);
  expect(await sample('timebox_overdue_revocations')).toBe(1);
  expect(await sample('timebox_scheduler_queue_depth')).toBeGreaterThanOrEqual(1);
  expect(await sample('timebox_scheduler_oldest_due_seconds')).toBeCloseTo(0.25, 3);
  expect(await sample('timebox_metrics_database_ok')).toBe(1);

  // The target refuses once: one failure, then a retry that succeeds.
  const state = fakeTargetState(instance);
  state.failRevoke = 'transient';
  state.failTimes = 1;
  await kit.scheduler.drain();
  expect((await getGrant(kit.deps, tenantId, alice, grant.id)).state).toBe('revoking');
  expect(await sample('timebox_revoke_failures_total{target_kind="fake",error_class="transient"}')).toBe(1);
  expect(await sample('timebox_overdue_revocations')).toBe(1);

  kit.clock.advance(4_000);
  await kit.scheduler.drain();
  const view = await getGrant(kit.deps, tenantId, alice, grant.id);
  expect(view.state).toBe('revoked');
  expect(await sample('timebox_revoke_retries_total{target_kind="fake"}')).toBe(1);
  expect(await sample('timebox_revocations_total{target_kind="fake"}')).toBe(1);
  expect(await sample('timebox_overdue_revocations')).toBe(0);
  expect(await sample('timebox_expiry_lag_seconds_count{target_kind="fake"}')).toBe(1);
  expect(await sample('timebox_expiry_lag_seconds_sum{target_kind="fake"}')).toBeCloseTo(604.25 - 600, 3);
});
