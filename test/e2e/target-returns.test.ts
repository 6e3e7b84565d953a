/**
 * A target that comes back is served at once: a real PostgreSQL target is stopped for longer
 * than the revocation attempts budget, so the grant goes revoke_failed with its next try 15
 * minutes away; when the target is started again, the probe notices within seconds and the
 * grant is revoked and verified (psql refused) within 30 s of the return, measured.
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
import { createTargetProbe, type TargetProbe } from '../../src/app/probe-targets.js';

const SLOW_RETRY_MS = 15 * 60_000;
let cluster: PgCluster;
let target: PgTarget;
let kit: Awaited<ReturnType<typeof createAppKit>>;
let probe: TargetProbe | undefined;
let follow: NodeJS.Timeout | undefined;

beforeAll(async () => {
  cluster = await startPostgres({ name: 'returning-target' });
  target = await preparePgTarget(cluster.adminUrl);
  kit = await createAppKit({
    connectors: [postgresConnector],
    start: new Date().toISOString(),
    retry: { baseMs: 2_000, maxMs: 8_000, maxAttempts: 3, slowRetryMs: SLOW_RETRY_MS },
  });
}, 60_000);
afterAll(async () => {
  if (follow) clearInterval(follow);
  await probe?.stop();
  await kit?.close();
  await cluster?.destroy();
});

describe('a target that comes back', () => {
  it('has its failed revocations done within 30 s of its return, however long it was down', async () => {
    const tenantId = await kit.seedTenant();
    const admin = await kit.seedOperator(tenantId, `adm-${randomUUID().slice(0, 6)}@example.com`, ['admin']);
    const bob = await kit.seedOperator(tenantId, `bob${randomUUID().slice(0, 4)}@example.com`, ['requester']);
    const actor = { type: 'operator' as const, id: admin.operatorId };
    const { target: t } = await addTarget(kit.deps, actor, tenantId, { name: 'pg', kind: 'postgres', config: target.config });
    await createPolicy(kit.deps, actor, tenantId, { name: 'p', requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
    const bobActor = { type: 'operator' as const, id: bob.operatorId };
    const g = await requestAccess(kit.deps, bobActor, tenantId, bob, { targetId: t.id, entitlements: [target.readers], durationSeconds: 600, reason: 'maintenance window' });
    await kit.scheduler.drain();
    const cred = await revealCredential(kit.deps, bobActor, tenantId, bob, g.id);
    expect((await psql(target, cred.username, cred.password!, 'select 1')).ok).toBe(true);

    // Down past the end and past every quick retry: revoke_failed, next try in 15 minutes.
    await cluster.stop();
    kit.clock.advance(600_000);
    await kit.scheduler.drain();
    for (let i = 0; i < 2; i++) {
      kit.clock.advance(8_000);
      await kit.scheduler.drain();
    }
    expect(await getGrant(kit.deps, tenantId, bob, g.id)).toMatchObject({ state: 'revoke_failed', revokeAttempts: 3 });
    const due = await kit.store.db.selectFrom('scheduled_work').select('due_at').where('grant_id', '=', g.id).where('kind', '=', 'revoke').executeTakeFirstOrThrow();
    expect(due.due_at.getTime() - kit.clock.now().getTime()).toBe(SLOW_RETRY_MS);

    // From here the server runs on its own, on real time: the clock follows the wall clock.
    let last = Date.now();
    follow = setInterval(() => {
      const now = Date.now();
      kit.clock.advance(now - last);
      last = now;
    }, 20);
    probe = createTargetProbe(kit.deps);
    expect(await probe.tick()).toEqual({ probed: [t.id], hurried: 0 });
    kit.scheduler.start();
    probe.start(1_000);

    await cluster.start();
    const back = Date.now();
    let view = await getGrant(kit.deps, tenantId, bob, g.id);
    while (view.state !== 'revoked' && Date.now() - back < 30_000) {
      await new Promise((r) => setTimeout(r, 100));
      view = await getGrant(kit.deps, tenantId, bob, g.id);
    }
    const login = await psql(target, cred.username, cred.password!, 'select 1');
    const took = Date.now() - back;
    console.info(`target back -> grant revoked and login refused in ${took} ms`);
    expect(view.state).toBe('revoked');
    expect(login.ok).toBe(false);
    expect(took).toBeLessThanOrEqual(30_000);
    const open = await kit.store.db.selectFrom('alerts').select('id').where('grant_id', '=', g.id).where('resolved_at', 'is', null).execute();
    expect(open).toEqual([]);
  }, 120_000);
});
