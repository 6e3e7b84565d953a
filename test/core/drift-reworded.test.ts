/**
 * Drift repair depends on no connector's wording: the fake target is wrapped so that every
 * message it produces (errors, refusals, check items) is replaced by nonsense, and the reconciler
 * still finds, repairs and audits drift, during a grant and after it, from the findings' data.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTarget } from '../../src/app/targets.js';
import { createPolicy } from '../../src/app/policies.js';
import { requestAccess } from '../../src/app/request-access.js';
import { endGrant, revealCredential } from '../../src/app/grants.js';
import { createReconciler } from '../../src/app/reconcile.js';
import type { ConnectorDefinition, ConnectorInstance } from '../../src/connectors/contract.js';
import { fakeConnector, fakeLogin, fakeTargetState, type FakeConfig } from '../../src/connectors/fake/fake-connector.js';
import { TargetError } from '../../src/core/errors.js';
import { createAppKit } from '../support/app-kit.js';

const nonsense = () => `zq ${randomUUID()}`;

/** Every word the connector says is replaced; its codes, classes and data are kept. */
function reworded(def: ConnectorDefinition<FakeConfig>): ConnectorDefinition<FakeConfig> {
  const reword = (err: unknown) =>
    err instanceof TargetError ? new TargetError(err.errorClass, nonsense(), { refusal: err.refusal }) : new Error(nonsense());
  return {
    ...def,
    validateAccountName: (n) => (def.validateAccountName(n) === null ? null : nonsense()),
    validateEntitlementName: (n) => (def.validateEntitlementName(n) === null ? null : nonsense()),
    create(config, services) {
      const inner = def.create(config, services);
      const wrapped: Record<string, unknown> = {};
      for (const [name, fn] of Object.entries(inner)) {
        if (typeof fn !== 'function') continue;
        wrapped[name] = async (...args: unknown[]) => {
          try {
            const out = await (fn as (...a: unknown[]) => Promise<unknown>).apply(inner, args);
            if (name === 'check') {
              const report = out as Awaited<ReturnType<ConnectorInstance['check']>>;
              return { ...report, items: report.items.map((i) => ({ ...i, message: nonsense() })) };
            }
            return out;
          } catch (err) {
            throw reword(err);
          }
        };
      }
      return wrapped as unknown as ConnectorInstance;
    },
  };
}

let kit: Awaited<ReturnType<typeof createAppKit>>;
beforeAll(async () => {
  kit = await createAppKit({ connectors: [reworded(fakeConnector)] });
});
afterAll(async () => kit?.close());

const driftAudit = async (accountId: string) =>
  (
    await kit.store.db
      .selectFrom('audit_events')
      .select(['action', 'after'])
      .where('subject_id', '=', accountId)
      .where('action', 'like', 'drift.%')
      .orderBy('seq')
      .execute()
  ).map((e) => ({ action: e.action, after: typeof e.after === 'string' ? JSON.parse(e.after) : e.after }));

describe('drift repair with every connector message reworded', () => {
  it('repairs during a grant (extra entitlement, expiry moved) and after it (re-enabled, entitlement re-added)', async () => {
    const tenantId = await kit.seedTenant();
    const admin = await kit.seedOperator(tenantId, `admin-${randomUUID().slice(0, 6)}@example.com`, ['admin']);
    const alice = await kit.seedOperator(tenantId, `alice${randomUUID().slice(0, 4)}@example.com`, ['requester']);
    const instance = randomUUID();
    const actor = { type: 'operator' as const, id: admin.operatorId };
    const { target } = await addTarget(kit.deps, actor, tenantId, { name: 'db1', kind: 'fake', config: { instance, entitlements: ['readers', 'writers'] } });
    await createPolicy(kit.deps, actor, tenantId, { name: 'default', requesterRoles: ['requester'], maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 3600, reasonMinLength: 5 });
    const aliceActor = { type: 'operator' as const, id: alice.operatorId };
    const grant = await requestAccess(kit.deps, aliceActor, tenantId, alice, { targetId: target.id, entitlements: ['readers'], durationSeconds: 1800, reason: 'INC-7 reworded' });
    await kit.scheduler.drain();
    const cred = await revealCredential(kit.deps, aliceActor, tenantId, alice, grant.id);
    const account = fakeTargetState(instance).accounts.get(cred.username)!;
    const jit = await kit.store.db.selectFrom('jit_accounts').selectAll().where('username', '=', cred.username).executeTakeFirstOrThrow();
    const end = account.validUntil;
    const reconciler = createReconciler(kit.deps);

    expect(await reconciler.runOnce()).toMatchObject({ checked: 1, drifted: 0 });

    // During the grant, by hand: a second entitlement, and an expiry a year later.
    account.entitlements.add('writers');
    const later = new Date(end.getTime() + 365 * 86_400_000);
    account.validUntil = later;
    expect(await reconciler.runOnce()).toMatchObject({ checked: 1, drifted: 1, repaired: 1, failed: 0 });
    expect([...account.entitlements]).toEqual(['readers']);
    expect(account.validUntil.getTime()).toBe(end.getTime());
    expect(fakeLogin(instance, cred.username, cred.password!, kit.clock.now())).toBe(true);

    await endGrant(kit.deps, aliceActor, tenantId, alice, grant.id, 'done');
    await kit.scheduler.drain();
    expect(account.enabled).toBe(false);

    // After the grant, by hand: enabled again with a password of someone's, an entitlement back.
    account.enabled = true;
    account.password = 'by-hand-1';
    account.validUntil = new Date(kit.clock.now().getTime() + 86_400_000);
    account.entitlements.add('writers');
    expect(fakeLogin(instance, cred.username, 'by-hand-1', kit.clock.now())).toBe(true);
    expect(await reconciler.runOnce()).toMatchObject({ checked: 1, drifted: 1, repaired: 1, failed: 0 });
    expect(account.enabled).toBe(false);
    expect(account.entitlements.size).toBe(0);
    expect(fakeLogin(instance, cred.username, 'by-hand-1', kit.clock.now())).toBe(false);
    expect(await reconciler.runOnce()).toMatchObject({ checked: 1, drifted: 0 });

    const events = await driftAudit(jit.id);
    expect(events.map((e) => e.action)).toEqual(['drift.detected', 'drift.repaired', 'drift.detected', 'drift.repaired']);
    expect(events[0]!.after).toMatchObject({
      live: true,
      findings: [
        { kind: 'entitlement', subject: 'writers', expected: 'absent', actual: 'present' },
        { kind: 'expiry', subject: cred.username, expected: end.toISOString(), actual: later.toISOString() },
      ],
    });
    expect(events[2]!.after).toMatchObject({
      live: false,
      findings: [
        { kind: 'entitlement', subject: 'writers', expected: 'absent', actual: 'present' },
        { kind: 'login', subject: cred.username, expected: 'disabled', actual: 'enabled' },
        // The login by hand above opened a session.
        { kind: 'sessions', subject: cred.username, expected: 0, actual: 1 },
      ],
    });
  });
});
