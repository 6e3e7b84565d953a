/**
 * The behaviour every credential-shaped kind owes the core (SSH certificates, X.509 client
 * certificates, security tokens): nobody logs in to a target account; a relying party decides
 * whether an issued credential is good for an entitlement. Call
 * `describeCredentialConformance` from a test file with a fixture whose `accepts` asks a real
 * relying party (sshd with the KRL, openssl with the CRL, token introspection), refreshed each time.
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { TargetError } from '../core/errors.js';
import type { ConnectorServices, Credential, GrantSpec } from './contract.js';
import { conformanceContext, describeWithTarget, inMinutes, targetCalls, type TargetFixture } from './conformance-target.js';

export interface CredentialConformanceFixture extends TargetFixture {
  services: ConnectorServices;
  tenantId: string;
  /** Two entitlements the config allows, and one it does not. */
  entitlements: [string, string];
  notAllowed: string;
  /** The requester's own public key, for kinds that take one. */
  publicKey?: string;
  /** Would a relying party accept `credential` for `entitlement` now (with its current revocation list)? */
  accepts(credential: Credential, entitlement: string): Promise<boolean>;
}

const ctx = conformanceContext;

export function describeCredentialConformance(name: string, setup: () => Promise<CredentialConformanceFixture>) {
  describeWithTarget(`credential conformance: ${name}`, setup, (t) => {
    const email = `ct.${randomUUID().slice(0, 6)}@example.test`;

    const grantSpec = (entitlements: string[] = [t.fx.entitlements[0]], grantId = randomUUID()): GrantSpec => ({
      grantId,
      tenantId: t.fx.tenantId,
      requester: { operatorId: randomUUID(), email },
      startsAt: new Date(Date.now() - 1000),
      ...(t.fx.publicKey ? { subjectPublicKey: t.fx.publicKey } : {}),
      account: { username: email, ownerDisplay: `Conformance Tester <${email}>` },
      entitlements,
      notAfter: inMinutes(30),
      accountNotAfter: inMinutes(30),
      reason: 'conformance suite',
      password: 'unused-Password-1',
    });
    const { revokeSpec } = targetCalls(t);

    it('issues a credential for the requester that a relying party accepts for the granted entitlement only; verify sees it', async () => {
      const spec = grantSpec();
      const { credential } = await t.target.grant(ctx, spec);
      expect(credential?.username).toBe(email);
      expect(await t.fx.accepts(credential!, t.fx.entitlements[0])).toBe(true);
      expect(await t.fx.accepts(credential!, t.fx.entitlements[1])).toBe(false);
      const v = await t.target.verify(ctx, revokeSpec(spec.grantId));
      expect(v.state).toBe('present');
      expect(v.findings.length).toBeGreaterThan(0);
    });

    it('granting twice leaves one working credential: the later one', async () => {
      const spec = grantSpec();
      const first = await t.target.grant(ctx, spec);
      const second = await t.target.grant(ctx, spec);
      expect(await t.fx.accepts(second.credential!, t.fx.entitlements[0])).toBe(true);
      expect(await t.fx.accepts(first.credential!, t.fx.entitlements[0])).toBe(false);
    });

    it('revoke ends it: verify says absent and the relying party refuses the credential', async () => {
      const spec = grantSpec(t.fx.entitlements);
      const { handle, credential } = await t.target.grant(ctx, spec);
      await t.target.revoke(ctx, revokeSpec(spec.grantId, handle));
      expect(await t.target.verify(ctx, revokeSpec(spec.grantId, handle))).toEqual({ state: 'absent', findings: [] });
      for (const e of t.fx.entitlements) expect(await t.fx.accepts(credential!, e)).toBe(false);
    });

    it('revoking twice succeeds, and revoking a grant that never issued anything succeeds', async () => {
      const spec = grantSpec();
      const { handle } = await t.target.grant(ctx, spec);
      await t.target.revoke(ctx, revokeSpec(spec.grantId, handle));
      await t.target.revoke(ctx, revokeSpec(spec.grantId, handle));
      const ghost = revokeSpec(randomUUID());
      await t.target.revoke(ctx, ghost);
      expect((await t.target.verify(ctx, ghost)).state).toBe('absent');
    });

    it('refuses an entitlement the target does not offer, naming it, and issues nothing', async () => {
      const spec = grantSpec([t.fx.entitlements[0], t.fx.notAllowed]);
      const err = await t.target.grant(ctx, spec).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).errorClass).toBe('invalid');
      expect((err as TargetError).message).toContain(t.fx.notAllowed);
      expect((await t.target.verify(ctx, revokeSpec(spec.grantId))).state).toBe('absent');
    });

    it('names the requester by e-mail, refuses other account names, and rotates nothing', async () => {
      expect(t.fx.definition.accountName).toBe('requester');
      expect(t.fx.definition.validateAccountName(email)).toBeNull();
      for (const bad of ['bob;drop', 'a b@example.com', '', 'jörg@example.com', 'x'.repeat(300)]) {
        expect(t.fx.definition.validateAccountName(bad), JSON.stringify(bad)).toEqual(expect.any(String));
      }
      expect(typeof t.target.rotate === 'function').toBe(t.fx.definition.capabilities.canRotate);
      expect(t.fx.definition.capabilities.jitAccounts).toBe(false);
    });
  });
}
