/**
 * The lifecycle end to end on a real embedded store with a fake clock and the in-memory fake
 * target: what a requester and an admin would see (account enabled, password shown once,
 * access gone at the end, overlapping grants respected, failures visible and retried).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { fakeConnector, fakeLogin, fakeTargetState } from '../../src/connectors/fake/fake-connector.js';
import { addTarget } from '../../src/app/targets.js';
import { createPolicy } from '../../src/app/policies.js';
import { requestAccess } from '../../src/app/request-access.js';
import { endGrant, getGrant, revealCredential } from '../../src/app/grants.js';
import { AppError } from '../../src/core/errors.js';
import { createAppKit } from '../support/app-kit.js';

let kit: Awaited<ReturnType<typeof createAppKit>>;
beforeAll(async () => {
  kit = await createAppKit({ connectors: [fakeConnector], retry: { maxAttempts: 3, baseMs: 1000, maxMs: 4000, slowRetryMs: 60_000 } });
});
afterAll(async () => kit?.close());

async function setup() {
  const tenantId = await kit.seedTenant();
  const admin = await kit.seedOperator(tenantId, `admin-${randomUUID().slice(0, 6)}@example.com`, ['admin']);
  const alice = await kit.seedOperator(tenantId, `alice${randomUUID().slice(0, 4)}@example.com`, ['requester']);
  const instance = randomUUID();
  const actor = { type: 'operator' as const, id: admin.operatorId };
  const { target } = await addTarget(kit.deps, actor, tenantId, {
    name: 'db1',
    kind: 'fake',
    config: { instance, entitlements: ['readers', 'writers'] },
  });
  await createPolicy(kit.deps, actor, tenantId, {
    name: 'default',
    requesterRoles: ['requester'],
    maxDurationSeconds: 4 * 3600,
    defaultDurationSeconds: 3600,
    reasonMinLength: 5,
  });
  const aliceActor = { type: 'operator' as const, id: alice.operatorId };
  return { tenantId, admin, alice, aliceActor, target, instance, state: fakeTargetState(instance) };
}

const auditCount = async (grantId: string, action: string) =>
  (await kit.store.db.selectFrom('audit_events').select('seq').where('subject_id', '=', grantId).where('action', '=', action).execute()).length;

describe('grant lifecycle on the store', () => {
  it('activates at once, shows the password once, and takes everything away at the end', async () => {
    const s = await setup();
    const grant = await requestAccess(kit.deps, s.aliceActor, s.tenantId, s.alice, {
      targetId: s.target.id,
      entitlements: ['readers'],
      durationSeconds: 1800,
      reason: 'INC-1 fix replication',
    });
    expect(grant.state).toBe('activating');
    await kit.scheduler.drain();

    const view = await getGrant(kit.deps, s.tenantId, s.alice, grant.id);
    expect(view.state).toBe('active');
    expect(view.expiresAt!.getTime() - view.startsAt!.getTime()).toBe(1800_000);
    const cred = await revealCredential(kit.deps, s.aliceActor, s.tenantId, s.alice, grant.id);
    expect(cred.username).toMatch(/_jit$/);
    expect(fakeLogin(s.instance, cred.username, cred.password!, kit.clock.now())).toBe(true);
    await expect(revealCredential(kit.deps, s.aliceActor, s.tenantId, s.alice, grant.id)).rejects.toThrow(/already shown once/);

    kit.clock.advance(1800_000);
    await kit.scheduler.drain();
    expect((await getGrant(kit.deps, s.tenantId, s.alice, grant.id)).state).toBe('revoked');
    const acct = s.state.accounts.get(cred.username)!;
    expect(acct.enabled).toBe(false);
    expect(acct.entitlements.size).toBe(0);
    expect(acct.sessions).toBe(0);
    expect(fakeLogin(s.instance, cred.username, cred.password!, kit.clock.now())).toBe(false);
    expect(await auditCount(grant.id, 'grant.revoked')).toBe(1);
  });

  it('tells every step of a lifecycle in the audit log, in order, though steps are written together', async () => {
    const s = await setup();
    const grant = await requestAccess(kit.deps, s.aliceActor, s.tenantId, s.alice, {
      targetId: s.target.id,
      entitlements: ['readers'],
      durationSeconds: 600,
      reason: 'INC-9 audit trail',
    });
    await kit.scheduler.drain();
    kit.clock.advance(600_000);
    await kit.scheduler.drain();

    const row = await kit.store.db.selectFrom('grants').selectAll().where('id', '=', grant.id).executeTakeFirstOrThrow();
    expect(row.state).toBe('revoked');
    const events = await kit.store.db
      .selectFrom('audit_events')
      .select(['action', 'actor_type', 'reason', 'before', 'after'])
      .where((eb) => eb.or([eb('subject_id', '=', grant.id), eb('subject_id', '=', row.jit_account_id)]))
      .orderBy('seq')
      .execute();
    expect(events.map((e) => e.action)).toEqual([
      'jit_account.created',
      'grant.requested',
      'grant.activating',
      'grant.active',
      'grant.revoking',
      'grant.revoked',
    ]);
    const step = (action: string) => events.find((e) => e.action === action)!;
    expect(step('grant.requested')).toMatchObject({ actor_type: 'operator', reason: 'INC-9 audit trail' });
    expect(step('grant.activating')).toMatchObject({ actor_type: 'system', before: { state: 'requested' }, after: { state: 'activating' } });
    expect(step('grant.activating').reason).toMatch(/approved automatically by policy "default"/);
    expect(step('grant.revoking')).toMatchObject({ reason: 'expired', before: { state: 'active' }, after: { state: 'revoking' } });
    expect(step('grant.revoked')).toMatchObject({ reason: 'expired', before: { state: 'revoking' }, after: { state: 'revoked' } });
    expect(step('grant.revoking').after).toEqual({ state: 'revoking', expiresAt: row.expires_at!.toISOString() });

    // Nothing left behind: no scheduled work, the account disabled and its lease given back.
    expect(await kit.store.db.selectFrom('scheduled_work').select('id').where('grant_id', '=', grant.id).execute()).toHaveLength(0);
    const account = await kit.store.db.selectFrom('jit_accounts').selectAll().where('id', '=', row.jit_account_id).executeTakeFirstOrThrow();
    expect(account).toMatchObject({ status: 'disabled', last_grant_id: grant.id, lease_owner: null, lease_until: null });
  });

  it('counts overlapping grants: the first expiry keeps what the second still needs', async () => {
    const s = await setup();
    const a = await requestAccess(kit.deps, s.aliceActor, s.tenantId, s.alice, {
      targetId: s.target.id, entitlements: ['readers'], durationSeconds: 3600, reason: 'first task',
    });
    await kit.scheduler.drain();
    kit.clock.advance(600_000);
    const b = await requestAccess(kit.deps, s.aliceActor, s.tenantId, s.alice, {
      targetId: s.target.id, entitlements: ['readers', 'writers'], durationSeconds: 3600, reason: 'second task',
    });
    await kit.scheduler.drain();
    const username = (await getGrant(kit.deps, s.tenantId, s.alice, a.id)).username;
    expect([...s.state.accounts.get(username)!.entitlements].sort()).toEqual(['readers', 'writers']);

    kit.clock.advance(3000_000); // a expires, b has 10 minutes left
    await kit.scheduler.drain();
    expect((await getGrant(kit.deps, s.tenantId, s.alice, a.id)).state).toBe('revoked');
    const acct = s.state.accounts.get(username)!;
    expect(acct.enabled).toBe(true);
    expect([...acct.entitlements].sort()).toEqual(['readers', 'writers']);
    expect(acct.validUntil.getTime()).toBe((await getGrant(kit.deps, s.tenantId, s.alice, b.id)).expiresAt!.getTime());

    kit.clock.advance(600_000);
    await kit.scheduler.drain();
    expect(acct.enabled).toBe(false);
    expect(acct.entitlements.size).toBe(0);
  });

  it('retries a failing revocation, shows revoke_failed with an alert, and completes when the target is back', async () => {
    const s = await setup();
    const g = await requestAccess(kit.deps, s.aliceActor, s.tenantId, s.alice, {
      targetId: s.target.id, entitlements: ['writers'], durationSeconds: 600, reason: 'change 42',
    });
    await kit.scheduler.drain();
    s.state.failRevoke = 'transient';
    kit.clock.advance(600_000);
    await kit.scheduler.drain();
    let view = await getGrant(kit.deps, s.tenantId, s.alice, g.id);
    expect(view.state).toBe('revoking');
    expect(view.revokeAttempts).toBe(1);
    expect(view.lastError).toMatch(/injected transient failure/);

    for (let i = 0; i < 2; i++) {
      kit.clock.advance(5_000);
      await kit.scheduler.drain();
    }
    view = await getGrant(kit.deps, s.tenantId, s.alice, g.id);
    expect(view.state).toBe('revoke_failed');
    const alerts = await kit.store.db.selectFrom('alerts').selectAll().where('grant_id', '=', g.id).execute();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.message).toMatch(/revocation failed after 3 attempt/);
    expect(await auditCount(g.id, 'alert.raised')).toBe(1);

    s.state.failRevoke = undefined;
    kit.clock.advance(60_000);
    await kit.scheduler.drain();
    view = await getGrant(kit.deps, s.tenantId, s.alice, g.id);
    expect(view.state).toBe('revoked');
    const open = await kit.store.db.selectFrom('alerts').select('id').where('grant_id', '=', g.id).where('resolved_at', 'is', null).execute();
    expect(open).toHaveLength(0);
    // The trail tells it in order: each failure, the alarm after the failure that raised it, the
    // revocation, and the alarm's end.
    const trail = await kit.store.db.selectFrom('audit_events').select('action').where('subject_id', '=', g.id).orderBy('seq').execute();
    expect(trail.map((e) => e.action).slice(-6)).toEqual([
      'grant.revoke_attempt_failed',
      'grant.revoke_attempt_failed',
      'grant.revoke_attempt_failed',
      'alert.raised',
      'grant.revoked',
      'alert.resolved',
    ]);
  });

  it('never calls a grant revoked while the target still grants it, though the target said the revoke succeeded', async () => {
    const s = await setup();
    const g = await requestAccess(kit.deps, s.aliceActor, s.tenantId, s.alice, {
      targetId: s.target.id, entitlements: ['writers'], durationSeconds: 600, reason: 'change 43',
    });
    await kit.scheduler.drain();
    const { username } = await revealCredential(kit.deps, s.aliceActor, s.tenantId, s.alice, g.id);
    s.state.silentRevoke = true;
    kit.clock.advance(600_000);
    await kit.scheduler.drain();
    let view = await getGrant(kit.deps, s.tenantId, s.alice, g.id);
    expect(view.state).toBe('revoking');
    expect(view.lastError).toMatch(/^verification after revoke found: /);
    expect(s.state.accounts.get(username)!.entitlements.has('writers')).toBe(true);

    for (let i = 0; i < 2; i++) {
      kit.clock.advance(5_000);
      await kit.scheduler.drain();
    }
    view = await getGrant(kit.deps, s.tenantId, s.alice, g.id);
    expect(view.state).toBe('revoke_failed');
    const alerts = await kit.store.db.selectFrom('alerts').select(['severity', 'message']).where('grant_id', '=', g.id).execute();
    expect(alerts).toEqual([{ severity: 'critical', message: expect.stringMatching(/revocation failed after 3 attempt.*verification after revoke found/) }]);
    expect(await auditCount(g.id, 'grant.revoked')).toBe(0);

    // The target behaves again: the next slow retry takes the access away and only then says so.
    s.state.silentRevoke = false;
    kit.clock.advance(60_000);
    await kit.scheduler.drain();
    view = await getGrant(kit.deps, s.tenantId, s.alice, g.id);
    expect(view.state).toBe('revoked');
    expect(s.state.accounts.get(username)!.entitlements.size).toBe(0);
    expect(s.state.accounts.get(username)!.enabled).toBe(false);
  });

  it('ends a grant early on request of its owner, and the end goes through revocation', async () => {
    const s = await setup();
    const g = await requestAccess(kit.deps, s.aliceActor, s.tenantId, s.alice, {
      targetId: s.target.id, entitlements: ['readers'], durationSeconds: 3600, reason: 'quick look',
    });
    await kit.scheduler.drain();
    await endGrant(kit.deps, s.aliceActor, s.tenantId, s.alice, g.id, 'done early');
    await kit.scheduler.drain();
    const view = await getGrant(kit.deps, s.tenantId, s.alice, g.id);
    expect(view.state).toBe('revoked');
    expect(view.endReason).toBe('done early');
    expect(s.state.accounts.get(view.username)!.enabled).toBe(false);
  });

  it('refuses a duration over the policy maximum and writes nothing', async () => {
    const s = await setup();
    const before = await kit.store.db.selectFrom('grants').select('id').where('tenant_id', '=', s.tenantId).execute();
    const err = await requestAccess(kit.deps, s.aliceActor, s.tenantId, s.alice, {
      targetId: s.target.id, entitlements: ['readers'], durationSeconds: 5 * 3600, reason: 'too long please',
    }).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.message).toMatch(/longer than policy "default" allows \(4h\)/);
    const accounts = await kit.store.db.selectFrom('jit_accounts').select('id').where('tenant_id', '=', s.tenantId).execute();
    expect(accounts).toHaveLength(0);
    const after = await kit.store.db.selectFrom('grants').select('id').where('tenant_id', '=', s.tenantId).execute();
    expect(after).toEqual(before);
  });

  it('refuses an entitlement the target does not have, before anything is created', async () => {
    const s = await setup();
    const err = await requestAccess(kit.deps, s.aliceActor, s.tenantId, s.alice, {
      targetId: s.target.id, entitlements: ['superusers'], durationSeconds: 600, reason: 'nope nope',
    }).catch((e) => e);
    expect(err.message).toBe('target "db1" has no entitlement named "superusers"');
    const accounts = await kit.store.db.selectFrom('jit_accounts').select('id').where('tenant_id', '=', s.tenantId).execute();
    expect(accounts).toHaveLength(0);
  });
});
