/**
 * The behaviour every membership-shaped kind owes the core (a grant changes what a person's OWN
 * existing account may do, no account is created: `active-directory-groups`). Call
 * `describeMembershipConformance` from a test file with a fixture whose `holds` asks the target as
 * the person sees it (their own login, their own group list), not through the connector.
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { TargetError } from '../core/errors.js';
import type { ConnectorDefinition, GrantSpec } from './contract.js';
import { conformanceContext, describeWithTarget, freshPassword, inMinutes, targetCalls, type TargetFixture } from './conformance-target.js';

export interface Person {
  username: string;
  password: string;
}

export interface MembershipConformanceFixture extends TargetFixture {
  definition: ConnectorDefinition<any>;
  config: unknown;
  /** Two entitlements that exist on the target, and a name that does not. */
  entitlements: [string, string];
  missing: string;
  /** A person with an existing account on the target, in none of the entitlements. */
  newPerson(): Promise<Person>;
  /** Does the person, logged in as themselves, hold the entitlement? */
  holds(person: Person, entitlement: string): Promise<boolean>;
  /** Can the person still log in with their own password? */
  canLogin(person: Person): Promise<boolean>;
  /** False for kinds whose revoke always ends the whole grant: retain does not apply. */
  partialRevoke?: boolean;
  cleanup(): Promise<void>;
}

const ctx = conformanceContext;

export function describeMembershipConformance(name: string, setup: () => Promise<MembershipConformanceFixture>) {
  describeWithTarget(`membership conformance: ${name}`, setup, (t) => {
    const { newGrantId, grant, revoke, revokeSpec } = targetCalls(t);
    const grantSpec = async (p: Person, entitlements: string[] = [...t.fx.entitlements]): Promise<GrantSpec> => ({
      grantId: await newGrantId(),
      ...(t.fx.tenantId ? { tenantId: t.fx.tenantId } : {}),
      // As the core sends it once an administrator confirmed the person's binding; how a kind
      // proves a binding otherwise is that kind's own test.
      account: { username: p.username, ownerDisplay: 'Conformance Tester <ct@example.test>', bindingConfirmed: true },
      entitlements,
      notAfter: inMinutes(30),
      accountNotAfter: inMinutes(30),
      reason: 'conformance suite',
      password: freshPassword(),
    });

    it('grants the entitlements to the person’s own account, as they see it; no credential; verify sees it', async () => {
      const p = await t.fx.newPerson();
      const granted = await grantSpec(p);
      const { handle, credential } = await grant(granted);
      expect(credential).toBeNull();
      for (const e of t.fx.entitlements) expect(await t.fx.holds(p, e), e).toBe(true);
      expect((await t.target.verify(ctx, revokeSpec(granted.grantId, handle))).state).toBe('present');
    });

    it('granting twice leaves the same state', async () => {
      const p = await t.fx.newPerson();
      const spec = await grantSpec(p);
      const first = await grant(spec);
      const second = await grant(spec);
      expect(second.handle).toEqual(first.handle);
      expect(await t.fx.holds(p, t.fx.entitlements[0])).toBe(true);
    });

    it('revoke takes the entitlements away and leaves the account itself working', async () => {
      const p = await t.fx.newPerson();
      const granted = await grantSpec(p);
      const { handle } = await grant(granted);
      const spec = revokeSpec(granted.grantId, handle);
      await revoke(spec);
      expect(await t.target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
      for (const e of t.fx.entitlements) expect(await t.fx.holds(p, e), e).toBe(false);
      expect(await t.fx.canLogin(p)).toBe(true);
    });

    it('revoking twice succeeds, and revoking for a person never granted succeeds', async () => {
      const p = await t.fx.newPerson();
      const granted = await grantSpec(p);
      const { handle } = await grant(granted);
      const spec = revokeSpec(granted.grantId, handle);
      await revoke(spec);
      await revoke(spec);
      expect((await t.target.verify(ctx, spec)).state).toBe('absent');
      const never = await t.fx.newPerson();
      const ghost = revokeSpec(randomUUID(), { username: never.username, entitlements: [...t.fx.entitlements] });
      await revoke(ghost);
      expect((await t.target.verify(ctx, ghost)).state).toBe('absent');
      for (const e of t.fx.entitlements) expect(await t.fx.holds(never, e)).toBe(false);
    });

    it('revoke with retain keeps the retained entitlement', async () => {
      const p = await t.fx.newPerson();
      const [kept, dropped] = t.fx.entitlements;
      // Kinds that end a grant whole retain nothing; the revoke cases above cover them.
      if (t.fx.partialRevoke === false) return;
      const granted = await grantSpec(p);
      const { handle } = await grant(granted);
      const partial = revokeSpec(granted.grantId, handle, { retain: [kept], accountStillNeededUntil: inMinutes(20) });
      await revoke(partial);
      expect(await t.target.verify(ctx, partial)).toEqual({ state: 'absent', findings: [] });
      expect(await t.fx.holds(p, kept)).toBe(true);
      expect(await t.fx.holds(p, dropped)).toBe(false);
    });

    it('refuses an entitlement that does not exist, naming it, and grants nothing', async () => {
      const p = await t.fx.newPerson();
      const err = await t.target.grant(ctx, await grantSpec(p, [t.fx.entitlements[0], t.fx.missing])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).errorClass).toBe('invalid');
      expect((err as TargetError).message).toContain(t.fx.missing);
      expect(await t.fx.holds(p, t.fx.entitlements[0])).toBe(false);
    });

    it('refuses names that could break out of a name, and rotates nothing it cannot', async () => {
      for (const bad of ['bob;drop', "o'brien", 'a b', 'x"y', 'new\nline', '', 'x'.repeat(300), 'jörg']) {
        expect(t.fx.definition.validateAccountName(bad), JSON.stringify(bad)).toMatch(/.{10,}/);
      }
      expect(typeof t.target.rotate === 'function').toBe(t.fx.definition.capabilities.canRotate);
      expect(t.fx.definition.capabilities.jitAccounts).toBe(false);
    });
  });
}
