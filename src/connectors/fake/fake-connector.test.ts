import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TargetError } from '../../core/errors.js';
import { describeConnectorConformance } from '../conformance.js';
import { fakeConfigSchema, fakeConnector, fakeLogin, fakeTargetState } from './fake-connector.js';

const ctx = { log: pino({ level: 'silent' }) };
const uniqueInstance = () => `fake-${randomBytes(4).toString('hex')}`;

describeConnectorConformance('fake', async () => {
  const instance = uniqueInstance();
  let n = 0;
  return {
    definition: fakeConnector,
    config: fakeConfigSchema.parse({ instance, entitlements: ['readers', 'writers'] }),
    entitlements: ['readers', 'writers'],
    newUsername: () => `user_${++n}_jit`,
    canLogin: async (username, password) => fakeLogin(instance, username, password),
    cleanup: async () => {},
  };
});

describe('fake connector specifics', () => {
  const spec = (username: string) => ({
    grantId: 'g1',
    account: { username, ownerDisplay: 'Alice' },
    entitlements: ['readers'],
    notAfter: new Date(Date.now() + 60_000),
    accountNotAfter: new Date(Date.now() + 60_000),
    reason: 'test',
    password: 'Secret-1',
  });

  it('injects the configured failure class, then recovers after failTimes', async () => {
    const instance = uniqueInstance();
    const target = fakeConnector.create(fakeConfigSchema.parse({ instance, failRevoke: 'transient', failTimes: 1 }));
    const { handle } = await target.grant(ctx, spec('alice_jit'));
    const revoke = { grantId: 'g1', handle, retain: [], accountStillNeededUntil: null, rotatePassword: 'x-Rotated-1' };

    const err = await target.revoke(ctx, revoke).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect((err as TargetError).retryable).toBe(true);
    expect(fakeTargetState(instance).accounts.get('alice_jit')?.enabled).toBe(true);

    await target.revoke(ctx, revoke);
    expect(fakeTargetState(instance).accounts.get('alice_jit')?.enabled).toBe(false);
    expect(fakeTargetState(instance).calls.revoke).toBe(2);
  });

  it('lets a test flip failures while running (a target outage that ends)', async () => {
    const instance = uniqueInstance();
    const target = fakeConnector.create(fakeConfigSchema.parse({ instance }));
    fakeTargetState(instance).failGrant = 'permanent';
    const err = await target.grant(ctx, spec('bob_jit')).catch((e: unknown) => e);
    expect((err as TargetError).errorClass).toBe('permanent');
    fakeTargetState(instance).failGrant = undefined;
    await target.grant(ctx, spec('bob_jit'));
    expect(fakeLogin(instance, 'bob_jit', 'Secret-1')).toBe(true);
  });

  it('revoke ends live sessions and verify reports a session opened behind its back', async () => {
    const instance = uniqueInstance();
    const target = fakeConnector.create(fakeConfigSchema.parse({ instance }));
    const { handle } = await target.grant(ctx, spec('carol_jit'));
    expect(fakeLogin(instance, 'carol_jit', 'Secret-1')).toBe(true);
    const revoke = { grantId: 'g1', handle, retain: [], accountStillNeededUntil: null, rotatePassword: 'x-Rotated-1' };
    await target.revoke(ctx, revoke);
    expect(fakeTargetState(instance).accounts.get('carol_jit')?.sessions).toBe(0);

    fakeTargetState(instance).accounts.get('carol_jit')!.enabled = true; // re-enabled by hand
    const v = await target.verify(ctx, revoke);
    expect(v.state).toBe('drifted');
    expect(v.findings).toEqual([{ kind: 'login', subject: 'carol_jit', expected: 'disabled', actual: 'enabled' }]);
  });

  it('refuses to take over an account it did not create', async () => {
    const instance = uniqueInstance();
    const target = fakeConnector.create(fakeConfigSchema.parse({ instance }));
    const state = fakeTargetState(instance);
    state.accounts.set('dave_jit', { enabled: true, managed: false, entitlements: new Set(), password: 'theirs', validUntil: new Date(8e15), sessions: 0 });
    const err = await target.grant(ctx, spec('dave_jit')).catch((e: unknown) => e);
    expect((err as TargetError).errorClass).toBe('invalid');
    expect(fakeLogin(instance, 'dave_jit', 'theirs')).toBe(true);
  });

  it('logins stop at the account end time without a revoke (native expiry)', async () => {
    const instance = uniqueInstance();
    const target = fakeConnector.create(fakeConfigSchema.parse({ instance }));
    const s = spec('erin_jit');
    await target.grant(ctx, s);
    expect(fakeLogin(instance, 'erin_jit', 'Secret-1', new Date(s.accountNotAfter.getTime() - 1))).toBe(true);
    expect(fakeLogin(instance, 'erin_jit', 'Secret-1', new Date(s.accountNotAfter.getTime() + 1))).toBe(false);
  });
});
