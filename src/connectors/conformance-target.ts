/**
 * What the three conformance suites (conformance.ts, membership-conformance.ts,
 * credential-conformance.ts) share: a fixture set up once per `describe`, the target instance
 * built from it, both closed at the end, whatever the shape of the kind; grant and revoke calls
 * that wait until a target that converges on its own (a host agent) has applied them; the
 * revoke request every suite sends.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe } from 'vitest';
import type { ConnectorContext, ConnectorDefinition, ConnectorInstance, ConnectorServices, GrantSpec, RevokeSpec } from './contract.js';

export interface TargetFixture {
  definition: ConnectorDefinition<any>;
  /** Parsed config for `definition.create`. */
  config: unknown;
  services?: ConnectorServices;
  /** The tenant grants are for (kinds reached through an enrolled agent check it). */
  tenantId?: string;
  /** A grant id the target takes: host agents key their desired state by a grant the server recorded. Default: a fresh UUID. */
  newGrantId?(): Promise<string>;
  /**
   * Resolves once the target has applied what was just asked: kinds whose target converges on its
   * own (a host agent polling its desired state) say when; others apply within the call.
   */
  settled?(): Promise<void>;
  cleanup(): Promise<void>;
}

export const conformanceContext: ConnectorContext = { log: pino({ level: 'silent' }) };
export const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);
export const freshPassword = () => `Pw-${randomBytes(18).toString('base64url')}`;

/** Filled in before the first test runs (read them inside tests, not while declaring them). */
export interface WithTarget<F> {
  fx: F;
  target: ConnectorInstance;
}

/** The calls a suite makes on the target, built from its fixture. */
export interface TargetCalls {
  /** The fixture's grant id, or a fresh UUID. */
  newGrantId(): Promise<string>;
  /** Through the connector, then until the target applied it. */
  grant(spec: GrantSpec): ReturnType<ConnectorInstance['grant']>;
  revoke(spec: RevokeSpec): Promise<void>;
  /** A revoke that ends the whole grant (nothing retained), rotating to a fresh password. */
  revokeSpec(grantId: string, handle?: Record<string, unknown>, extra?: Partial<RevokeSpec>): RevokeSpec;
}

export function targetCalls(t: WithTarget<TargetFixture>): TargetCalls {
  return {
    newGrantId: async () => (await t.fx.newGrantId?.()) ?? randomUUID(),
    async grant(spec) {
      const r = await t.target.grant(conformanceContext, spec);
      await t.fx.settled?.();
      return r;
    },
    async revoke(spec) {
      await t.target.revoke(conformanceContext, spec);
      await t.fx.settled?.();
    },
    revokeSpec: (grantId, handle = {}, extra = {}) => ({
      grantId,
      ...(t.fx.tenantId ? { tenantId: t.fx.tenantId } : {}),
      handle,
      retain: [],
      accountStillNeededUntil: null,
      rotatePassword: freshPassword(),
      ...extra,
    }),
  };
}

export function describeWithTarget<F extends TargetFixture>(title: string, setup: () => Promise<F>, body: (t: WithTarget<F>) => void): void {
  describe(title, () => {
    const t = {} as WithTarget<F>;
    beforeAll(async () => {
      t.fx = await setup();
      t.target = t.fx.definition.create(t.fx.config, t.fx.services);
    });
    afterAll(async () => {
      await t.target?.close();
      await t.fx?.cleanup();
    });
    body(t);
  });
}
