/** The target kinds this server knows, with their config schemas as JSON Schema (for forms). */
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.js';
import { describeKind } from '../../connectors/kind-catalog.js';
import type { RouteModule } from '../server.js';

const nameRulesSchema = z.object({
  minLength: z.number(),
  maxLength: z.number(),
  pattern: z.string(),
  reserved: z.array(z.string()).readonly(),
  reservedPrefixes: z.array(z.string()).readonly(),
  hint: z.string(),
});

export const targetKindSchema = z.object({
  kind: z.string(),
  label: z.string(),
  help: z.string(),
  accountName: z.enum(['per-person', 'requester']),
  capabilities: z.object({ nativeExpiry: z.boolean(), endsSessions: z.boolean(), canRotate: z.boolean(), jitAccounts: z.boolean() }),
  accountNameRules: nameRulesSchema,
  configSchema: z.record(z.string(), z.unknown()).describe('JSON Schema (draft 2020-12) of the config; writeOnly marks secrets'),
});

export const targetKindRoutes =
  (deps: AppDeps): RouteModule =>
  (app) => {
    app.get(
      '/api/v1/target-kinds',
      {
        schema: {
          tags: ['targets'],
          summary: 'Target kinds this server supports: labels, capabilities, account-name rules and config JSON Schema',
          response: { 200: z.object({ items: z.array(targetKindSchema) }) },
        },
      },
      async () => ({ items: deps.connectors.definitions().map(describeKind) }),
    );
  };
