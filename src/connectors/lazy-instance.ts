/**
 * A connector instance whose implementation is imported on its first call. The definition a
 * server registers (name, config schema, rules) stays small; a kind's client library (the LDAP
 * client, the MySQL driver...) is loaded when a target of that kind is first used, never at start,
 * and never on a server that has no such target.
 *
 * Callers test for the optional methods (`if (instance.rotate)`), so the kind names the ones it
 * implements; the loaded instance must implement exactly those (checked when it loads).
 */
import type { ConnectorInstance } from './contract.js';

export type OptionalMethod = 'rotate' | 'deleteAccount' | 'accountStatus' | 'entitlementExists' | 'extend';

const OPTIONAL_METHODS: readonly OptionalMethod[] = ['rotate', 'deleteAccount', 'accountStatus', 'entitlementExists', 'extend'];

export type LoadedInstance<M extends OptionalMethod> = ConnectorInstance & Required<Pick<ConnectorInstance, M>>;

export function lazyInstance<M extends OptionalMethod>(optional: readonly M[], load: () => Promise<LoadedInstance<M>>): ConnectorInstance {
  let loading: Promise<LoadedInstance<M>> | undefined;
  const real = (): Promise<LoadedInstance<M>> => {
    loading ??= load().then(
      (instance) => {
        const missing = OPTIONAL_METHODS.filter((m) => (optional as readonly OptionalMethod[]).includes(m) !== (typeof instance[m] === 'function'));
        if (missing.length > 0) throw new Error(`connector instance does not match its declared optional methods: ${missing.join(', ')}`);
        return instance;
      },
      (err: unknown) => {
        // A failed import or construction is tried again on the next call.
        loading = undefined;
        throw err;
      },
    );
    return loading;
  };
  const optionalMethods: Required<Pick<ConnectorInstance, OptionalMethod>> = {
    rotate: async (ctx, handle, password, owner) => (await real()).rotate!(ctx, handle, password, owner),
    deleteAccount: async (ctx, username, handle, owner) => (await real()).deleteAccount!(ctx, username, handle, owner),
    accountStatus: async (ctx, name, owner) => (await real()).accountStatus!(ctx, name, owner),
    entitlementExists: async (ctx, name) => (await real()).entitlementExists!(ctx, name),
    extend: async (ctx, handle, until) => (await real()).extend!(ctx, handle, until),
  };
  const instance: ConnectorInstance = {
    check: async (ctx) => (await real()).check(ctx),
    listEntitlements: async (ctx, q) => (await real()).listEntitlements(ctx, q),
    grant: async (ctx, spec) => (await real()).grant(ctx, spec),
    revoke: async (ctx, spec) => (await real()).revoke(ctx, spec),
    verify: async (ctx, spec) => (await real()).verify(ctx, spec),
    // Never used: nothing was opened. Loading: closed once it is there.
    close: async () => {
      const opened = loading && (await loading.catch(() => undefined));
      await opened?.close();
    },
  };
  for (const m of optional) Object.assign(instance, { [m]: optionalMethods[m] });
  return instance;
}
