/**
 * The target kinds this server knows, and a cache of live connector instances per target.
 * An instance is rebuilt when its target's configuration changes.
 *
 * The shipped kinds come as a `KindRegistry`: one definition per `TargetKind` of the pure core,
 * each under its own name, so the compiler refuses a kind without a connector, a connector without
 * its kind, or one filed under another kind's name. Test-only kinds (the in-memory `fake`) are extras.
 */
import type { TargetKind } from '../core/target-kinds.js';
import type { ConnectorDefinition, ConnectorInstance, ConnectorServices } from './contract.js';

export type KindRegistry = { readonly [K in TargetKind]: ConnectorDefinition<any, K> };

export type ConnectorRegistry = ReadonlyMap<string, ConnectorDefinition<any>>;

export function createRegistry(kinds: KindRegistry, extras: ConnectorDefinition<any>[] = []): ConnectorRegistry {
  const all = new Map<string, ConnectorDefinition<any>>(Object.values(kinds).map((d) => [d.kind, d]));
  for (const d of extras) all.set(d.kind, d);
  return all;
}

/** A registry of chosen definitions only (tests that need one or two kinds). */
export function registryOf(definitions: ConnectorDefinition<any>[]): ConnectorRegistry {
  return new Map(definitions.map((d) => [d.kind, d]));
}

export interface ConnectorHub {
  definition(kind: string): ConnectorDefinition<any> | undefined;
  /** Every registered definition, in registration order. */
  definitions(): ConnectorDefinition<any>[];
  kinds(): string[];
  /** The instance for a target at a given config version (updated_at). */
  instance(target: { id: string; kind: string; updatedAt: Date }, loadConfig: () => unknown): ConnectorInstance;
  /** An uncached instance for a config not saved yet (testing new settings); the caller closes it. */
  scratch(kind: string, config: unknown): ConnectorInstance;
  /** Closes the cached instance of a target that is gone. */
  forget(targetId: string): Promise<void>;
  closeAll(): Promise<void>;
}

/** `services` is handed to every connector instance (credential engines...); kinds that need none ignore it. */
export function createConnectorHub(registry: ConnectorRegistry, services: ConnectorServices = {}): ConnectorHub {
  const cache = new Map<string, { version: number; instance: ConnectorInstance }>();
  return {
    definition: (kind) => registry.get(kind),
    definitions: () => [...registry.values()],
    kinds: () => [...registry.keys()],
    instance(target, loadConfig) {
      const version = target.updatedAt.getTime();
      const hit = cache.get(target.id);
      if (hit && hit.version === version) return hit.instance;
      if (hit) void hit.instance.close().catch(() => {});
      const def = registry.get(target.kind);
      if (!def) throw new Error(`no connector for target kind ${target.kind}`);
      const config = def.configSchema.parse(loadConfig());
      const instance = def.create(config, services);
      cache.set(target.id, { version, instance });
      return instance;
    },
    scratch(kind, config) {
      const def = registry.get(kind);
      if (!def) throw new Error(`no connector for target kind ${kind}`);
      return def.create(def.configSchema.parse(config), services);
    },
    async forget(targetId) {
      const hit = cache.get(targetId);
      cache.delete(targetId);
      await hit?.instance.close().catch(() => {});
    },
    async closeAll() {
      const all = [...cache.values()];
      cache.clear();
      await Promise.allSettled(all.map((c) => c.instance.close()));
    },
  };
}
