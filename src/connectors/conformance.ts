/**
 * The behaviour every connector owes the core, checked the same way for each target kind.
 * Call `describeConnectorConformance` from a connector's test file with a fixture that points at
 * a real (or, for the fake, in-memory) target. Assertions are about what a user notices: can the
 * account log in, does verify tell the truth after revoke.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetError } from '../core/errors.js';
import type { ConnectorContext, ConnectorDefinition, ConnectorInstance, GrantSpec, RevokeSpec } from './contract.js';

export interface ConformanceFixture {
  definition: ConnectorDefinition<any>;
  /** Parsed config for `definition.create`. */
  config: unknown;
  /** Two entitlements that exist on the target. */
  entitlements: [string, string];
  /** A valid account name not used before on the target. */
  newUsername(): string;
  /** A fresh login as the target judges it (not through the connector). */
  canLogin(username: string, password: string): Promise<boolean>;
  cleanup(): Promise<void>;
}

const ctx: ConnectorContext = { log: pino({ level: 'silent' }) };
const password = () => `Pw-${randomBytes(18).toString('base64url')}`;
const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);

export function describeConnectorConformance(name: string, setup: () => Promise<ConformanceFixture>) {
  describe(`connector conformance: ${name}`, () => {
    let fx: ConformanceFixture;
    let target: ConnectorInstance;

    beforeAll(async () => {
      fx = await setup();
      target = fx.definition.create(fx.config);
    });
    afterAll(async () => {
      await target?.close();
      await fx?.cleanup();
    });

    const grantSpec = (username: string, pw: string, entitlements = fx.entitlements as string[]): GrantSpec => ({
      grantId: `g-${randomBytes(4).toString('hex')}`,
      account: { username, ownerDisplay: 'Conformance Tester <ct@example.test>' },
      entitlements,
      notAfter: inMinutes(30),
      accountNotAfter: inMinutes(30),
      reason: 'conformance suite',
      password: pw,
    });
    const revokeSpec = (handle: Record<string, unknown>, extra: Partial<RevokeSpec> = {}): RevokeSpec => ({
      grantId: 'r',
      handle,
      retain: [],
      accountStillNeededUntil: null,
      rotatePassword: password(),
      ...extra,
    });

    it('grants an account that can log in, and verify sees it as still present', async () => {
      const user = fx.newUsername();
      const pw = password();
      const { handle, credential } = await target.grant(ctx, grantSpec(user, pw));
      expect(credential).toEqual({ username: user, password: pw });
      expect(await fx.canLogin(user, pw)).toBe(true);
      const v = await target.verify(ctx, revokeSpec(handle));
      expect(v.state).toBe('present');
      expect(v.findings.length).toBeGreaterThan(0);
    });

    it('an account belongs to the JIT account its marker names: owned for it, foreign for any other, never adopted', async () => {
      // Kinds without the lookup have no account the server can ask about (credential kinds; host
      // agents refuse foreign accounts on the host themselves): nothing to check for them.
      if (!target.accountStatus) return;
      const installationId = randomUUID();
      const mine = { accountId: randomUUID(), installationId };
      const theirs = { accountId: randomUUID(), installationId };
      const user = fx.newUsername();
      expect(await target.accountStatus(ctx, user, mine)).toEqual({ status: 'free' });
      const pw = password();
      const spec = grantSpec(user, pw);
      await target.grant(ctx, { ...spec, account: { ...spec.account, owner: mine } });
      expect(await target.accountStatus(ctx, user, mine)).toEqual({ status: 'owned' });
      expect(await target.accountStatus(ctx, user, theirs)).toEqual({ status: 'foreign', reason: 'other_account' });
      expect(await target.accountStatus(ctx, user, { accountId: mine.accountId, installationId: randomUUID() })).toEqual({
        status: 'foreign',
        reason: 'other_installation',
      });

      const other = password();
      const taken = grantSpec(user, other);
      const err = await target.grant(ctx, { ...taken, account: { ...taken.account, owner: theirs } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).refusal).toBe('account_foreign');
      expect(await fx.canLogin(user, pw)).toBe(true);
      expect(await fx.canLogin(user, other)).toBe(false);
    });

    it('granting twice leaves the same working account', async () => {
      const user = fx.newUsername();
      const pw = password();
      const spec = grantSpec(user, pw);
      const first = await target.grant(ctx, spec);
      const second = await target.grant(ctx, spec);
      expect(second.handle).toEqual(first.handle);
      expect(await fx.canLogin(user, pw)).toBe(true);
    });

    it('revoke removes access: verify says absent and the password no longer logs in', async () => {
      const user = fx.newUsername();
      const pw = password();
      const { handle } = await target.grant(ctx, grantSpec(user, pw));
      const spec = revokeSpec(handle);
      await target.revoke(ctx, spec);
      expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
      expect(await fx.canLogin(user, pw)).toBe(false);
      // Nobody knows the rotated password, but the account must refuse it too.
      expect(await fx.canLogin(user, spec.rotatePassword)).toBe(false);
    });

    it('revoking twice succeeds, and revoking an account that never existed succeeds', async () => {
      const user = fx.newUsername();
      const { handle } = await target.grant(ctx, grantSpec(user, password()));
      const spec = revokeSpec(handle);
      await target.revoke(ctx, spec);
      await target.revoke(ctx, spec);
      expect((await target.verify(ctx, spec)).state).toBe('absent');

      const ghost = revokeSpec({ username: fx.newUsername(), entitlements: [...fx.entitlements] });
      await target.revoke(ctx, ghost);
      expect((await target.verify(ctx, ghost)).state).toBe('absent');
    });

    it('revoke with retain keeps the retained entitlement and, while still needed, the login', async () => {
      const user = fx.newUsername();
      const pw = password();
      const [kept, dropped] = fx.entitlements;
      const { handle } = await target.grant(ctx, grantSpec(user, pw));
      const partial = revokeSpec(handle, { retain: [kept], accountStillNeededUntil: inMinutes(20) });
      await target.revoke(ctx, partial);

      expect(await target.verify(ctx, partial)).toEqual({ state: 'absent', findings: [] });
      expect(await fx.canLogin(user, pw)).toBe(true);
      // Asking about both entitlements shows the retained one is still held.
      const both = await target.verify(ctx, revokeSpec(handle, { accountStillNeededUntil: inMinutes(20) }));
      expect(both.state).not.toBe('absent');
      const held = both.findings.flatMap((f) => (f.kind === 'entitlement' ? [f.subject] : []));
      expect(held).toContain(kept);
      expect(held).not.toContain(dropped);
    });

    it('re-enabling after revoke works with the new password and refuses the old one', async () => {
      const user = fx.newUsername();
      const oldPw = password();
      const { handle } = await target.grant(ctx, grantSpec(user, oldPw));
      await target.revoke(ctx, revokeSpec(handle));

      const newPw = password();
      await target.grant(ctx, grantSpec(user, newPw));
      expect(await fx.canLogin(user, newPw)).toBe(true);
      expect(await fx.canLogin(user, oldPw)).toBe(false);
    });

    it('rotate works exactly when the connector says it can', async () => {
      expect(typeof target.rotate === 'function').toBe(fx.definition.capabilities.canRotate);
      if (!target.rotate) return;
      const user = fx.newUsername();
      const oldPw = password();
      const { handle } = await target.grant(ctx, grantSpec(user, oldPw));
      const newPw = password();
      await target.rotate(ctx, handle, newPw);
      expect(await fx.canLogin(user, newPw)).toBe(true);
      expect(await fx.canLogin(user, oldPw)).toBe(false);
    });

    it('refuses an entitlement that does not exist, naming it, and creates nothing', async () => {
      const user = fx.newUsername();
      const pw = password();
      const missing = `missing_${randomBytes(4).toString('hex')}`;
      const err = await target.grant(ctx, grantSpec(user, pw, [fx.entitlements[0], missing])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).errorClass).toBe('invalid');
      expect((err as TargetError).message).toContain(missing);
      expect(await fx.canLogin(user, pw)).toBe(false);
    });

    it('rejects account names that could break out of a name, with a message for a person', async () => {
      for (const bad of ['bob;drop', "o'brien", 'a b', 'x"y', 'tab\tname', 'new\nline', '', 'x'.repeat(300), 'jörg']) {
        const message = fx.definition.validateAccountName(bad);
        expect(message, JSON.stringify(bad)).toEqual(expect.any(String));
        expect(message!.length).toBeGreaterThan(10);
      }
      expect(fx.definition.validateAccountName(fx.newUsername())).toBeNull();

      const err = await target.grant(ctx, grantSpec('bob;drop', password())).catch((e: unknown) => e);
      expect((err as TargetError).errorClass).toBe('invalid');
    });
  });
}
