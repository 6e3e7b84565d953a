import { z } from 'zod';
import { endpoint } from '../endpoint.js';

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

export const targetKindEndpoints = {
  listTargetKinds: endpoint({
    method: 'GET',
    path: '/api/v1/target-kinds',
    auth: 'session',
    tags: ['targets'],
    summary: 'Target kinds this server supports: labels, capabilities, account-name rules and config JSON Schema',
    response: { 200: z.object({ items: z.array(targetKindSchema) }) },
  }),
};
