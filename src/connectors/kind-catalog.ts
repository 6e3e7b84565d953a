/**
 * What a target kind offers, as data for any client: its labels, capabilities, account-name rules
 * and its config schema as JSON Schema, generated from the same zod schema the server validates
 * with (input side: defaults shown, refinements the JSON Schema cannot say stay server-side).
 */
import { z } from 'zod';
import type { AccountNameRules } from '../core/target-kinds.js';
import type { Capabilities, ConnectorDefinition } from './contract.js';

export interface TargetKindView {
  kind: string;
  label: string;
  help: string;
  /** 'per-person': a JIT account, named by the requester or derived; 'requester': the credential names the requester. */
  accountName: 'per-person' | 'requester';
  capabilities: Capabilities;
  accountNameRules: AccountNameRules;
  /** JSON Schema (draft 2020-12) of the kind's config; `writeOnly` marks secrets, `x-…` keys are form hints. */
  configSchema: Record<string, unknown>;
}

const views = new WeakMap<ConnectorDefinition<any>, TargetKindView>();

export function describeKind(definition: ConnectorDefinition<any>): TargetKindView {
  const cached = views.get(definition);
  if (cached) return cached;
  const view: TargetKindView = {
    kind: definition.kind,
    label: definition.label,
    help: definition.help,
    accountName: definition.accountName ?? 'per-person',
    capabilities: definition.capabilities,
    accountNameRules: definition.accountNameRules,
    configSchema: configJsonSchema(definition.configSchema),
  };
  views.set(definition, view);
  return view;
}

export function configJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    io: 'input',
    // A check JSON Schema cannot express (a custom refinement) is left to the server.
    unrepresentable: 'any',
    override: (ctx) => {
      // zod writes `.includes()` as a pattern plus a non-standard format; the pattern says it all.
      const js = ctx.jsonSchema as Record<string, unknown>;
      if (js.format === 'includes') delete js.format;
    },
  }) as Record<string, unknown>;
}

/** The config keys a kind marks `writeOnly` (secrets): never sent back to a client. */
export function secretKeysOf(view: TargetKindView): string[] {
  const props = (view.configSchema.properties ?? {}) as Record<string, { writeOnly?: boolean }>;
  return Object.entries(props)
    .filter(([, p]) => p.writeOnly === true)
    .map(([k]) => k);
}
