/**
 * Revocations that fall due together run as one batch (one read per kind of row, one transaction
 * for all outcomes), and the account lease is taken with the claim and given back by the
 * transaction that completes the work. What a person would notice: every grant ends, verified on
 * its target; a grant whose target fails or whose account is busy is retried, never lost; nothing
 * stays scheduled or leased afterwards.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { fakeConnector, fakeTargetState } from '../../src/connectors/fake/fake-connector.js';
import { addTarget } from '../../src/app/targets.js';
import { createPolicy } from '../../src/app/policies.js';
import { requestAccess } from '../../src/app/request-access.js';
import { getGrant } from '../../src/app/grants.js';
import { createAppKit } from '../support/app-kit.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';

let kit: Awaited<ReturnType<typeof createAppKit>>;

async function setup() {
  const tenantId = await kit.seedTenant();
  const admin = await kit.seedOperator(tenantId, `admin-${randomUUID().slice(0, 6)}@example.com`, ['admin']);
  const actor = { type: 'operator' as const, id: admin.operatorId };
  const target = async (name: string) => {
    const instance = randomUUID();
    const added = await addTarget(kit.deps, actor, tenantId, { name, kind: 'fake', config: { instance, entitlements: ['readers', 'writers'] } });
    return { id: added.target.id, instance, state: fakeTargetState(instance) };
  };
  await createPolicy(kit.deps, actor, tenantId, {
    name: 'default',
    requesterRoles: ['requester'],
    maxDurationSeconds: 4 * 3600,
    defaultDurationSeconds: 3600,
    reasonMinLength: 0,
  });
  const person = () => kit.seedOperator(tenantId, `p${randomUUID().slice(0, 8)}@example.com`, ['requester']);
  const ask = async (who: Awaited<ReturnType<typeof person>>, targetId: string, entitlements = ['readers']) =>
    requestAccess(kit.deps, { type: 'operator', id: who.operatorId }, tenantId, who, {
      targetId,
      entitlements,
      durationSeconds: 1800,
      reason: 'batch',
    });
  return { tenantId, target, person, ask };
}

const view = async (tenantId: string, grantId: string) => {
  const g = await kit.store.db.selectFrom('grants').selectAll().where('id', '=', grantId).executeTakeFirstOrThrow();
  const account = await kit.store.db.selectFrom('jit_accounts').selectAll().where('id', '=', g.jit_account_id).executeTakeFirstOrThrow();
  const work = await kit.store.db.selectFrom('scheduled_work').selectAll().where('grant_id', '=', grantId).execute();
  return { grant: g, account, work, tenantId };
};

const audited = async (grantId: string, action: string) =>
  (await kit.store.db.selectFrom('audit_events').select('seq').where('subject_id', '=', grantId).where('action', '=', action).execute()).length;

// Both stores: a batch's outcomes are written with array parameters, which each driver sends its way.
describe.each(['PGlite', 'PostgreSQL'] as const)('revocations in batches (%s)', (store) => {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    if (store === 'PostgreSQL') database = await createTestDatabase(inject('pgAdminUrl'));
    kit = await createAppKit({
      connectors: [fakeConnector],
      retry: { maxAttempts: 3, baseMs: 1000, maxMs: 4000, slowRetryMs: 60_000 },
      ...(database ? { databaseUrl: database.url } : {}),
    });
  });
  afterAll(async () => {
    await kit?.close();
    await database?.drop();
  });

  it('revokes a burst of expiries on two targets: the working one at once, the failing one retried, nothing left', async () => {
    const s = await setup();
    const good = await s.target('good');
    const flaky = await s.target('flaky');
    const onGood = [];
    const onFlaky = [];
    for (let i = 0; i < 12; i++) onGood.push(await s.ask(await s.person(), good.id));
    for (let i = 0; i < 5; i++) onFlaky.push(await s.ask(await s.person(), flaky.id));
    await kit.scheduler.drain();
    for (const g of [...onGood, ...onFlaky]) expect((await view(s.tenantId, g.id)).grant.state).toBe('active');

    flaky.state.failRevoke = 'transient';
    kit.clock.advance(1800_000);
    await kit.scheduler.drain();
    for (const g of onGood) {
      const v = await view(s.tenantId, g.id);
      expect(v.grant.state).toBe('revoked');
      expect(v.grant.revoked_at).toEqual(kit.clock.now());
      expect(v.grant.end_reason).toBe('expired');
      expect(v.grant.last_error).toBeNull();
      expect(v.grant.credential_enc).toBeNull();
      expect(v.account.status).toBe('disabled');
      expect(v.account.lease_owner).toBeNull();
      expect(v.work).toHaveLength(0);
      expect(good.state.accounts.get(v.account.username)!.enabled).toBe(false);
      expect(await audited(g.id, 'grant.revoking')).toBe(1);
      expect(await audited(g.id, 'grant.revoked')).toBe(1);
    }
    for (const g of onFlaky) {
      const v = await view(s.tenantId, g.id);
      expect(v.grant.state).toBe('revoking');
      expect(v.grant.revoke_attempts).toBe(1);
      expect(v.grant.last_error).toMatch(/injected transient failure/);
      expect(v.account.lease_owner).toBeNull();
      expect(v.work.map((w) => [w.kind, w.locked_by])).toEqual([['revoke', null]]);
      expect(flaky.state.accounts.get(v.account.username)!.enabled).toBe(true);
    }

    flaky.state.failRevoke = undefined;
    kit.clock.advance(10_000);
    await kit.scheduler.drain();
    for (const g of onFlaky) {
      const v = await view(s.tenantId, g.id);
      expect(v.grant.state).toBe('revoked');
      expect(v.work).toHaveLength(0);
      expect(v.account.lease_owner).toBeNull();
      expect(flaky.state.accounts.get(v.account.username)!.enabled).toBe(false);
    }
  });

  it('a revocation whose account another run holds waits for it, then revokes', async () => {
    const s = await setup();
    const t = await s.target('busy');
    const g = await s.ask(await s.person(), t.id);
    await kit.scheduler.drain();
    const before = await view(s.tenantId, g.id);
    // Another holder (a rotation on another server, say) has the account for a while.
    await kit.store.db
      .updateTable('jit_accounts')
      .set({ lease_owner: 'another-server:rotate', lease_until: new Date(kit.clock.now().getTime() + 3600_000) })
      .where('id', '=', before.account.id)
      .execute();

    kit.clock.advance(1800_000);
    await kit.scheduler.drain();
    let v = await view(s.tenantId, g.id);
    expect(v.grant.state).toBe('active');
    expect(v.account.lease_owner).toBe('another-server:rotate');
    expect(v.work.map((w) => [w.kind, w.locked_by])).toEqual([['revoke', null]]);
    expect(t.state.accounts.get(v.account.username)!.enabled).toBe(true);

    await kit.store.db.updateTable('jit_accounts').set({ lease_owner: null, lease_until: null }).where('id', '=', before.account.id).execute();
    kit.clock.advance(1_000);
    await kit.scheduler.drain();
    v = await view(s.tenantId, g.id);
    expect(v.grant.state).toBe('revoked');
    expect(v.work).toHaveLength(0);
    expect(t.state.accounts.get(v.account.username)!.enabled).toBe(false);
  });

  it('two grants of one account due together: one waits for the other, both end verified', async () => {
    const s = await setup();
    const t = await s.target('shared');
    const who = await s.person();
    const a = await s.ask(who, t.id, ['readers']);
    const b = await s.ask(who, t.id, ['writers']);
    await kit.scheduler.drain();
    // The two activations share the account: the second comes back once the first is done.
    kit.clock.advance(1_000);
    await kit.scheduler.drain();
    expect((await getGrant(kit.deps, s.tenantId, who, a.id)).state).toBe('active');
    expect((await getGrant(kit.deps, s.tenantId, who, b.id)).state).toBe('active');

    kit.clock.advance(1800_000);
    await kit.scheduler.drain();
    const states = [(await view(s.tenantId, a.id)).grant.state, (await view(s.tenantId, b.id)).grant.state].sort();
    // One claim leases the account once: the other grant of that claim came back a moment later.
    expect(states).toEqual(['active', 'revoked']);

    kit.clock.advance(1_000);
    await kit.scheduler.drain();
    const va = await view(s.tenantId, a.id);
    const vb = await view(s.tenantId, b.id);
    expect([va.grant.state, vb.grant.state]).toEqual(['revoked', 'revoked']);
    expect(va.account.status).toBe('disabled');
    expect(va.account.lease_owner).toBeNull();
    const acct = t.state.accounts.get(va.account.username)!;
    expect(acct.enabled).toBe(false);
    expect(acct.entitlements.size).toBe(0);
  });
});
