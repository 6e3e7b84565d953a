/**
 * The behaviour every credential-shaped kind owes the core (SSH certificates, X.509 client
 * certificates, security tokens): nobody logs in to a target account; a relying party decides
 * whether an issued credential is good for an entitlement. Call
 * `describeCredentialConformance` from a test file with a fixture whose `accepts` asks a real
 * relying party (sshd with the KRL, openssl with the CRL, token introspection), refreshed each time.
 */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetError } from '../core/errors.js';
import type { ConnectorContext, ConnectorDefinition, ConnectorInstance, ConnectorServices, Credential, GrantSpec, RevokeSpec } from './contract.js';

export interface CredentialConformanceFixture {
  definition: ConnectorDefinition<any>;
  /** Parsed config for `definition.create`. */
  config: unknown;
  services: ConnectorServices;
  tenantId: string;
  /** Two entitlements the config allows, and one it does not. */
  entitlements: [string, string];
  notAllowed: string;
  /** The requester's own public key, for kinds that take one. */
  publicKey?: string;
  /** Would a relying party accept `credential` for `entitlement` now (with its current revocation list)? */
  accepts(credential: Credential, entitlement: string): Promise<boolean>;
  cleanup(): Promise<void>;
}

const ctx: ConnectorContext = { log: pino({ level: 'silent' }) };
const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);

export function describeCredentialConformance(name: string, setup: () => Promise<CredentialConformanceFixture>) {
  describe(`credential conformance: ${name}`, () => {
    let fx: CredentialConformanceFixture;
    let target: ConnectorInstance;
    const email = `ct.${randomUUID().slice(0, 6)}@example.test`;

    beforeAll(async () => {
      fx = await setup();
      target = fx.definition.create(fx.config, fx.services);
    });
    afterAll(async () => {
      await target?.close();
      await fx?.cleanup();
    });

    const grantSpec = (entitlements: string[] = [fx.entitlements[0]], grantId = randomUUID()): GrantSpec => ({
      grantId,
      tenantId: fx.tenantId,
      requester: { operatorId: randomUUID(), email },
      startsAt: new Date(Date.now() - 1000),
      ...(fx.publicKey ? { subjectPublicKey: fx.publicKey } : {}),
      account: { username: email, ownerDisplay: `Conformance Tester <${email}>` },
      entitlements,
      notAfter: inMinutes(30),
      accountNotAfter: inMinutes(30),
      reason: 'conformance suite',
      password: 'unused-Password-1',
    });
    const revokeSpec = (grantId: string, handle: Record<string, unknown> = {}): RevokeSpec => ({
      grantId,
      tenantId: fx.tenantId,
      handle,
      retain: [],
      accountStillNeededUntil: null,
      rotatePassword: 'unused-Password-2',
    });

    it('issues a credential for the requester that a relying party accepts for the granted entitlement only; verify sees it', async () => {
      const spec = grantSpec();
      const { credential } = await target.grant(ctx, spec);
      expect(credential?.username).toBe(email);
      expect(await fx.accepts(credential!, fx.entitlements[0])).toBe(true);
      expect(await fx.accepts(credential!, fx.entitlements[1])).toBe(false);
      const v = await target.verify(ctx, revokeSpec(spec.grantId));
      expect(v.state).toBe('present');
      expect(v.findings.length).toBeGreaterThan(0);
    });

    it('granting twice leaves one working credential: the later one', async () => {
      const spec = grantSpec();
      const first = await target.grant(ctx, spec);
      const second = await target.grant(ctx, spec);
      expect(await fx.accepts(second.credential!, fx.entitlements[0])).toBe(true);
      expect(await fx.accepts(first.credential!, fx.entitlements[0])).toBe(false);
    });

    it('revoke ends it: verify says absent and the relying party refuses the credential', async () => {
      const spec = grantSpec(fx.entitlements);
      const { handle, credential } = await target.grant(ctx, spec);
      await target.revoke(ctx, revokeSpec(spec.grantId, handle));
      expect(await target.verify(ctx, revokeSpec(spec.grantId, handle))).toEqual({ state: 'absent', findings: [] });
      for (const e of fx.entitlements) expect(await fx.accepts(credential!, e)).toBe(false);
    });

    it('revoking twice succeeds, and revoking a grant that never issued anything succeeds', async () => {
      const spec = grantSpec();
      const { handle } = await target.grant(ctx, spec);
      await target.revoke(ctx, revokeSpec(spec.grantId, handle));
      await target.revoke(ctx, revokeSpec(spec.grantId, handle));
      const ghost = revokeSpec(randomUUID());
      await target.revoke(ctx, ghost);
      expect((await target.verify(ctx, ghost)).state).toBe('absent');
    });

    it('refuses an entitlement the target does not offer, naming it, and issues nothing', async () => {
      const spec = grantSpec([fx.entitlements[0], fx.notAllowed]);
      const err = await target.grant(ctx, spec).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      expect((err as TargetError).errorClass).toBe('invalid');
      expect((err as TargetError).message).toContain(fx.notAllowed);
      expect((await target.verify(ctx, revokeSpec(spec.grantId))).state).toBe('absent');
    });

    it('names the requester by e-mail, refuses other account names, and rotates nothing', async () => {
      expect(fx.definition.accountName).toBe('requester');
      expect(fx.definition.validateAccountName(email)).toBeNull();
      for (const bad of ['bob;drop', 'a b@example.com', '', 'jörg@example.com', 'x'.repeat(300)]) {
        expect(fx.definition.validateAccountName(bad), JSON.stringify(bad)).toEqual(expect.any(String));
      }
      expect(typeof target.rotate === 'function').toBe(fx.definition.capabilities.canRotate);
      expect(fx.definition.capabilities.jitAccounts).toBe(false);
    });
  });
}
