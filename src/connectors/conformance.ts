/**
 * The behaviour every connector owes the core, checked the same way for each target kind.
 * Call `describeConnectorConformance` from a connector's test file with a fixture that points at
 * a real (or, for the fake, in-memory) target. Assertions are about what a user notices: can the
 * account log in, does verify tell the truth after revoke.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { TargetError } from '../core/errors.js';
import type { ConnectorDefinition, GrantSpec } from './contract.js';
import { conformanceContext, describeWithTarget, freshPassword, inMinutes, targetCalls, type TargetFixture } from './conformance-target.js';

export interface ConformanceFixture extends TargetFixture {
  definition: ConnectorDefinition<any>;
  /** Parsed config for `definition.create`. */
  config: unknown;
  /** Two entitlements that exist on the target. */
  entitlements: [string, string];
  /** A valid account name not used before on the target. */
  newUsername(): string;
  /** A fresh login as the target judges it (not through the connector): a person logging in with the credential. */
  canLogin(username: string, password: string): Promise<boolean>;
  /** False for kinds whose revoke always ends the whole grant (one live grant per account): retain does not apply. */
  partialRevoke?: boolean;
  cleanup(): Promise<void>;
}

const ctx = conformanceContext;
const password = freshPassword;

export function describeConnectorConformance(name: string, setup: () => Promise<ConformanceFixture>) {
  describeWithTarget(`connector conformance: ${name}`, setup, (t) => {
    const { newGrantId, grant, revoke, revokeSpec } = targetCalls(t);
    const grantSpec = async (username: string, pw: string, entitlements = t.fx.entitlements as string[]): Promise<GrantSpec> => ({
      grantId: await newGrantId(),
      ...(t.fx.tenantId ? { tenantId: t.fx.tenantId } : {}),
      account: { username, ownerDisplay: 'Conformance Tester <ct@example.test>' },
      entitlements,
      notAfter: inMinutes(30),
      accountNotAfter: inMinutes(30),
      reason: 'conformance suite',
      password: pw,
    });

    it('grants an account that can log in, and verify sees it as still present', async () => {
      const user = t.fx.newUsername();
      const pw = password();
      const spec = await grantSpec(user, pw);
      const { handle, credential } = await grant(spec);
      expect(credential).toEqual({ username: user, password: pw });
      expect(await t.fx.canLogin(user, pw)).toBe(true);
      const v = await t.target.verify(ctx, revokeSpec(spec.grantId, handle));
      expect(v.state).toBe('present');
      expect(v.findings.length).toBeGreaterThan(0);
    });

    it('an account belongs to the JIT account its marker names: owned for it, foreign for any other, never adopted', async () => {
      // Kinds without the lookup have no account the server can ask about (credential kinds; host
      // agents refuse foreign accounts on the host themselves): nothing to check for them.
      if (!t.target.accountStatus) return;
      const installationId = randomUUID();
      const mine = { accountId: randomUUID(), installationId };
      const theirs = { accountId: randomUUID(), installationId };
      const user = t.fx.newUsername();
      expect(await t.target.accountStatus(ctx, user, mine)).toEqual({ status: 'free' });
      const pw = password();
      const spec = await grantSpec(user, pw);
      await grant({ ...spec, account: { ...spec.account, owner: mine } });
      expect(await t.target.accountStatus(ctx, user, mine)).toEqual({ status: 'owned' });
      expect(await t.target.accountStatus(ctx, user, theirs)).toEqual({ status: 'foreign', reason: 'other_account' });
      expect(await t.target.accountStatus(ctx, user, { accountId: mine.accountId, installationId: randomUUID() })).toEqual({
        status: 'foreign',
        reason: 'other_installation',
      });

      const other = password();
      const taken = await grantSpec(user, other);
      const err = await t.target.grant(ctx, { ...taken, account: { ...taken.account, owner: theirs } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).refusal).toBe('account_foreign');
      expect(await t.fx.canLogin(user, pw)).toBe(true);
      expect(await t.fx.canLogin(user, other)).toBe(false);
    });

    it('granting twice leaves the same working account', async () => {
      const user = t.fx.newUsername();
      const pw = password();
      const spec = await grantSpec(user, pw);
      const first = await grant(spec);
      const second = await grant(spec);
      expect(second.handle).toEqual(first.handle);
      expect(await t.fx.canLogin(user, pw)).toBe(true);
    });

    it('revoke removes access: verify says absent and the password no longer logs in', async () => {
      const user = t.fx.newUsername();
      const pw = password();
      const granted = await grantSpec(user, pw);
      const { handle } = await grant(granted);
      const spec = revokeSpec(granted.grantId, handle);
      await revoke(spec);
      expect(await t.target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
      expect(await t.fx.canLogin(user, pw)).toBe(false);
      // Nobody knows the rotated password, but the account must refuse it too.
      expect(await t.fx.canLogin(user, spec.rotatePassword)).toBe(false);
    });

    it('revoking twice succeeds, and revoking an account that never existed succeeds', async () => {
      const user = t.fx.newUsername();
      const granted = await grantSpec(user, password());
      const { handle } = await grant(granted);
      const spec = revokeSpec(granted.grantId, handle);
      await revoke(spec);
      await revoke(spec);
      expect((await t.target.verify(ctx, spec)).state).toBe('absent');

      const ghost = revokeSpec(randomUUID(), { username: t.fx.newUsername(), entitlements: [...t.fx.entitlements] });
      await revoke(ghost);
      expect((await t.target.verify(ctx, ghost)).state).toBe('absent');
    });

    it('revoke with retain keeps the retained entitlement and, while still needed, the login', async () => {
      const user = t.fx.newUsername();
      const pw = password();
      const [kept, dropped] = t.fx.entitlements;
      // One live grant per account, ended whole: nothing is retained, and the revoke cases above cover it.
      if (t.fx.partialRevoke === false) return;
      const granted = await grantSpec(user, pw);
      const { handle } = await grant(granted);
      const partial = revokeSpec(granted.grantId, handle, { retain: [kept], accountStillNeededUntil: inMinutes(20) });
      await revoke(partial);

      expect(await t.target.verify(ctx, partial)).toEqual({ state: 'absent', findings: [] });
      expect(await t.fx.canLogin(user, pw)).toBe(true);
      // Asking about both entitlements shows the retained one is still held.
      const both = await t.target.verify(ctx, revokeSpec(granted.grantId, handle, { accountStillNeededUntil: inMinutes(20) }));
      expect(both.state).not.toBe('absent');
      const held = both.findings.flatMap((f) => (f.kind === 'entitlement' ? [f.subject] : []));
      expect(held).toContain(kept);
      expect(held).not.toContain(dropped);
    });

    it('re-enabling after revoke works with the new password and refuses the old one', async () => {
      const user = t.fx.newUsername();
      const oldPw = password();
      const granted = await grantSpec(user, oldPw);
      const { handle } = await grant(granted);
      await revoke(revokeSpec(granted.grantId, handle));

      const newPw = password();
      await grant(await grantSpec(user, newPw));
      expect(await t.fx.canLogin(user, newPw)).toBe(true);
      expect(await t.fx.canLogin(user, oldPw)).toBe(false);
    });

    it('rotate works exactly when the connector says it can', async () => {
      expect(typeof t.target.rotate === 'function').toBe(t.fx.definition.capabilities.canRotate);
      if (!t.target.rotate) return;
      const user = t.fx.newUsername();
      const oldPw = password();
      const { handle } = await grant(await grantSpec(user, oldPw));
      const newPw = password();
      await t.target.rotate(ctx, handle, newPw);
      expect(await t.fx.canLogin(user, newPw)).toBe(true);
      expect(await t.fx.canLogin(user, oldPw)).toBe(false);
    });

    it('refuses an entitlement that does not exist, naming it, and creates nothing', async () => {
      const user = t.fx.newUsername();
      const pw = password();
      const missing = `missing_${randomBytes(4).toString('hex')}`;
      const err = await t.target.grant(ctx, await grantSpec(user, pw, [t.fx.entitlements[0], missing])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).errorClass).toBe('invalid');
      expect((err as TargetError).message).toContain(missing);
      expect(await t.fx.canLogin(user, pw)).toBe(false);
    });

    it('rejects account names that could break out of a name, with a message for a person', async () => {
      for (const bad of ['bob;drop', "o'brien", 'a b', 'x"y', 'tab\tname', 'new\nline', '', 'x'.repeat(300), 'jörg']) {
        const message = t.fx.definition.validateAccountName(bad);
        expect(message, JSON.stringify(bad)).toEqual(expect.any(String));
        expect(message!.length).toBeGreaterThan(10);
      }
      expect(t.fx.definition.validateAccountName(t.fx.newUsername())).toBeNull();

      const err = await t.target.grant(ctx, await grantSpec('bob;drop', password())).catch((e: unknown) => e);
      expect((err as TargetError).errorClass).toBe('invalid');
    });
  });
}
