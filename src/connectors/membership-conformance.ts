/**
 * The behaviour every membership-shaped kind owes the core (a grant changes what a person's OWN
 * existing account may do, no account is created: `active-directory-groups`). Call
 * `describeMembershipConformance` from a test file with a fixture whose `holds` asks the target as
 * the person sees it (their own login, their own group list), not through the connector.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetError } from '../core/errors.js';
import type { ConnectorContext, ConnectorDefinition, ConnectorInstance, GrantSpec, RevokeSpec } from './contract.js';

export interface Person {
  username: string;
  password: string;
}

export interface MembershipConformanceFixture {
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
  cleanup(): Promise<void>;
}

const ctx: ConnectorContext = { log: pino({ level: 'silent' }) };
const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);

export function describeMembershipConformance(name: string, setup: () => Promise<MembershipConformanceFixture>) {
  describe(`membership conformance: ${name}`, () => {
    let fx: MembershipConformanceFixture;
    let target: ConnectorInstance;

    beforeAll(async () => {
      fx = await setup();
      target = fx.definition.create(fx.config);
    });
    afterAll(async () => {
      await target?.close();
      await fx?.cleanup();
    });

    const grantSpec = (p: Person, entitlements: string[] = [...fx.entitlements]): GrantSpec => ({
      grantId: `g-${randomBytes(4).toString('hex')}`,
      account: { username: p.username, ownerDisplay: 'Conformance Tester <ct@example.test>' },
      entitlements,
      notAfter: inMinutes(30),
      accountNotAfter: inMinutes(30),
      reason: 'conformance suite',
      password: `Pw-${randomBytes(12).toString('base64url')}`,
    });
    const revokeSpec = (handle: Record<string, unknown>, extra: Partial<RevokeSpec> = {}): RevokeSpec => ({
      grantId: 'r',
      handle,
      retain: [],
      accountStillNeededUntil: null,
      rotatePassword: `Pw-${randomBytes(12).toString('base64url')}`,
      ...extra,
    });

    it('grants the entitlements to the person’s own account, as they see it; no credential; verify sees it', async () => {
      const p = await fx.newPerson();
      const { handle, credential } = await target.grant(ctx, grantSpec(p));
      expect(credential).toBeNull();
      for (const e of fx.entitlements) expect(await fx.holds(p, e), e).toBe(true);
      expect((await target.verify(ctx, revokeSpec(handle))).state).toBe('present');
    });

    it('granting twice leaves the same state', async () => {
      const p = await fx.newPerson();
      const spec = grantSpec(p);
      const first = await target.grant(ctx, spec);
      const second = await target.grant(ctx, spec);
      expect(second.handle).toEqual(first.handle);
      expect(await fx.holds(p, fx.entitlements[0])).toBe(true);
    });

    it('revoke takes the entitlements away and leaves the account itself working', async () => {
      const p = await fx.newPerson();
      const { handle } = await target.grant(ctx, grantSpec(p));
      const spec = revokeSpec(handle);
      await target.revoke(ctx, spec);
      expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
      for (const e of fx.entitlements) expect(await fx.holds(p, e), e).toBe(false);
      expect(await fx.canLogin(p)).toBe(true);
    });

    it('revoking twice succeeds, and revoking for a person never granted succeeds', async () => {
      const p = await fx.newPerson();
      const { handle } = await target.grant(ctx, grantSpec(p));
      const spec = revokeSpec(handle);
      await target.revoke(ctx, spec);
      await target.revoke(ctx, spec);
      expect((await target.verify(ctx, spec)).state).toBe('absent');
      const never = await fx.newPerson();
      const ghost = revokeSpec({ username: never.username, entitlements: [...fx.entitlements] });
      await target.revoke(ctx, ghost);
      expect((await target.verify(ctx, ghost)).state).toBe('absent');
      for (const e of fx.entitlements) expect(await fx.holds(never, e)).toBe(false);
    });

    it('revoke with retain keeps the retained entitlement', async () => {
      const p = await fx.newPerson();
      const [kept, dropped] = fx.entitlements;
      const { handle } = await target.grant(ctx, grantSpec(p));
      const partial = revokeSpec(handle, { retain: [kept], accountStillNeededUntil: inMinutes(20) });
      await target.revoke(ctx, partial);
      expect(await target.verify(ctx, partial)).toEqual({ state: 'absent', findings: [] });
      expect(await fx.holds(p, kept)).toBe(true);
      expect(await fx.holds(p, dropped)).toBe(false);
    });

    it('refuses an entitlement that does not exist, naming it, and grants nothing', async () => {
      const p = await fx.newPerson();
      const err = await target.grant(ctx, grantSpec(p, [fx.entitlements[0], fx.missing])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).errorClass).toBe('invalid');
      expect((err as TargetError).message).toContain(fx.missing);
      expect(await fx.holds(p, fx.entitlements[0])).toBe(false);
    });

    it('refuses names that could break out of a name, and rotates nothing it cannot', async () => {
      for (const bad of ['bob;drop', "o'brien", 'a b', 'x"y', 'new\nline', '', 'x'.repeat(300), 'jörg']) {
        expect(fx.definition.validateAccountName(bad), JSON.stringify(bad)).toMatch(/.{10,}/);
      }
      expect(typeof target.rotate === 'function').toBe(fx.definition.capabilities.canRotate);
      expect(fx.definition.capabilities.jitAccounts).toBe(false);
    });
  });
}
