/**
 * Builds the application core on a real embedded store with a fake clock, for tests of the
 * lifecycle end to end. Targets are whatever connectors the test passes (the fake one for core
 * behaviour; real connectors in the real-target suites).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { ConnectorDefinition } from '../../src/connectors/contract.js';
import { createConnectorHub, registryOf } from '../../src/connectors/registry.js';
import { fakeClock } from '../../src/core/clock.js';
import { defaultRetryPolicy, type RetryPolicy } from '../../src/core/retry.js';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { createSecretBox } from '../../src/secrets/envelope.js';
import { createOutboundPolicy } from '../../src/net/outbound-policy.js';
import { createKeyedLimiter } from '../../src/scheduler/keyed-limiter.js';
import { createScheduler } from '../../src/scheduler/scheduler.js';
import { openStore, type Store } from '../../src/store/db.js';
import { openTestStore } from '../harness/pglite-template.js';
import type { AppDeps } from '../../src/app/deps.js';
import { createActivateJob } from '../../src/app/activate-grant.js';
import { createRevokeBatchJob, createRevokeJob } from '../../src/app/revoke-grant.js';
import { createPendingTimeoutJob } from '../../src/app/pending-timeout.js';
import { createExpiryWarningJob } from '../../src/app/expiry-warning.js';

export async function createAppKit(opts: {
  connectors: ConnectorDefinition<any>[];
  store?: Store;
  databaseUrl?: string;
  retry?: Partial<RetryPolicy>;
  /** Where the fake clock starts; real targets need today (they judge expiry by their own clock). */
  start?: string;
}) {
  const store = opts.store ?? (opts.databaseUrl ? await openStore({ databaseUrl: opts.databaseUrl }) : await openTestStore());
  const clock = fakeClock(opts.start ?? '2026-03-01T09:00:00.000Z');
  // Real targets in these tests listen on this host: the operator's allowance for loopback.
  const outbound = createOutboundPolicy({ allow: 'loopback' });
  const hub = createConnectorHub(registryOf(opts.connectors), { outbound });
  const log = pino({ level: process.env.TIMEBOX_TEST_LOG ?? 'silent' });
  let scheduler: ReturnType<typeof createScheduler> | null = null;
  const deps: AppDeps = {
    db: store.db,
    audit: createAuditLog({ clock }),
    secrets: createSecretBox(randomBytes(32)),
    clock,
    log,
    connectors: hub,
    retry: { ...defaultRetryPolicy, ...opts.retry },
    targetLimiter: createKeyedLimiter({ total: 64, perKey: 8 }),
    workerId: `test-${randomUUID().slice(0, 8)}`,
    poke: (dueAt) => scheduler?.poke(dueAt),
    outbound,
  };
  scheduler = createScheduler({
    db: store.db,
    clock,
    log,
    workerId: deps.workerId,
    retry: deps.retry,
    handlers: {
      activate: createActivateJob(deps),
      revoke: createRevokeJob(deps),
      pending_timeout: createPendingTimeoutJob(deps),
      expiry_warning: createExpiryWarningJob(deps),
    },
    batchHandlers: { revoke: createRevokeBatchJob(deps) },
  });

  async function seedTenant(slug = `t-${randomUUID().slice(0, 8)}`) {
    const tenantId = randomUUID();
    await store.db.insertInto('tenants').values({ id: tenantId, slug, name: slug, created_at: clock.now() }).execute();
    return tenantId;
  }

  async function seedOperator(tenantId: string, email: string, roles: string[] = ['requester']) {
    const id = randomUUID();
    await store.db
      .insertInto('operators')
      .values({ id, email, display_name: email.split('@')[0]!, created_at: clock.now() })
      .execute();
    await store.db.insertInto('memberships').values({ tenant_id: tenantId, operator_id: id, roles, created_at: clock.now() }).execute();
    return { operatorId: id, email, displayName: email.split('@')[0]!, roles };
  }

  return {
    store,
    deps,
    clock,
    scheduler,
    seedTenant,
    seedOperator,
    async close() {
      await scheduler!.stop();
      await hub.closeAll();
      if (!opts.store) await store.close();
    },
  };
}
