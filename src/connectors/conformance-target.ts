/**
 * What the three conformance suites (conformance.ts, membership-conformance.ts,
 * credential-conformance.ts) share: a fixture set up once per `describe`, the target instance
 * built from it, both closed at the end, whatever the shape of the kind.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import type { ConnectorDefinition, ConnectorInstance, ConnectorServices } from './contract.js';

export interface TargetFixture {
  definition: ConnectorDefinition<any>;
  /** Parsed config for `definition.create`. */
  config: unknown;
  services?: ConnectorServices;
  cleanup(): Promise<void>;
}

/** Filled in before the first test runs (read them inside tests, not while declaring them). */
export interface WithTarget<F> {
  fx: F;
  target: ConnectorInstance;
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
