/**
 * The target is down when a grant expires: Timebox retries with backoff, then shows
 * revoke_failed with an alert, keeps trying slowly, and completes when the target is back.
 * Real PostgreSQL target (stopped and started for real), clock driven by the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startPostgres, type PgCluster } from '../harness/postgres.js';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { createAppKit } from '../support/app-kit.js';
import { postgresConnector } from '../../src/connectors/postgres/postgres-connector.js';
import { addTarget } from '../../src/app/targets.js';
import { createPolicy } from '../../src/app/policies.js';
import { requestAccess } from '../../src/app/request-access.js';
import { getGrant, revealCredential } from '../../src/app/grants.js';

let cluster: PgCluster;
let target: PgTarget;
let kit: Awaited<ReturnType<typeof createAppKit>>;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'down-target' });
  target = await preparePgTarget(cluster.adminUrl);
  kit = await createAppKit({
    connectors: [postgresConnector],
    start: new Date().toISOString(),
    retry: { baseMs: 2_000, maxMs: 8_000, maxAttempts: 4, slowRetryMs: 120_000 },
  });
});
afterAll(async () => {
  await kit?.close();
  await cluster?.destroy();
});

describe('target down at expiry', () => {
  it('retries, raises revoke_failed with an alert, and revokes once the target is back', async () => {
    const tenantId = await kit.seedTenant();
    const admin = await kit.seedOperator(tenantId, `adm-${randomUUID().slice(0, 6)}@example.com`, ['admin']);
    const bob = await kit.seedOperator(tenantId, `bob${randomUUID().slice(0, 4)}@example.com`, ['requester']);
    const actor = { type: 'operator' as const, id: admin.operatorId };
    const { target: t, check } = await addTarget(kit.deps, actor, tenantId, { name: 'pg', kind: 'postgres', config: target.config });
    expect(check.ok).toBe(true);
    await createPolicy(kit.deps, actor, tenantId, { name: 'p', requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
    const bobActor = { type: 'operator' as const, id: bob.operatorId };
    const g = await requestAccess(kit.deps, bobActor, tenantId, bob, { targetId: t.id, entitlements: [target.readers], durationSeconds: 600, reason: 'maintenance window' });
    await kit.scheduler.drain();
    const cred = await revealCredential(kit.deps, bobActor, tenantId, bob, g.id);
    expect((await psql(target, cred.username, cred.password!, 'select 1')).ok).toBe(true);

    await cluster.stop();
    kit.clock.advance(600_000);
    await kit.scheduler.drain();
    let view = await getGrant(kit.deps, tenantId, bob, g.id);
    expect(view).toMatchObject({ state: 'revoking', revokeAttempts: 1 });
    expect(view.lastError).toMatch(/ECONNREFUSED|connect|refused/i);

    // Each retry waits for its backoff: nothing happens before it is due.
    const due = await kit.store.db.selectFrom('scheduled_work').select('due_at').where('grant_id', '=', g.id).executeTakeFirstOrThrow();
    const wait = due.due_at.getTime() - kit.clock.now().getTime();
    expect(wait).toBeGreaterThanOrEqual(1_000);
    expect(wait).toBeLessThanOrEqual(2_000);
    expect(await kit.scheduler.drain()).toBe(0);

    for (let i = 0; i < 3; i++) {
      kit.clock.advance(8_000);
      await kit.scheduler.drain();
    }
    view = await getGrant(kit.deps, tenantId, bob, g.id);
    expect(view).toMatchObject({ state: 'revoke_failed', revokeAttempts: 4 });
    const alerts = await kit.store.db.selectFrom('alerts').selectAll().where('grant_id', '=', g.id).execute();
    expect(alerts.map((a) => a.severity)).toEqual(['critical']);
    expect(alerts[0]!.message).toMatch(/revocation failed after 4 attempt\(s\).*may still be present/);

    await cluster.start();
    kit.clock.advance(120_000);
    await kit.scheduler.drain();
    view = await getGrant(kit.deps, tenantId, bob, g.id);
    expect(view.state).toBe('revoked');
    expect((await psql(target, cred.username, cred.password!, 'select 1')).ok).toBe(false);
    const open = await kit.store.db.selectFrom('alerts').select('id').where('grant_id', '=', g.id).where('resolved_at', 'is', null).execute();
    expect(open).toEqual([]);
  });
});
