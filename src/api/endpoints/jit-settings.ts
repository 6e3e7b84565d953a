import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { uuidParam, name, tenantParamsSchema } from '../fields.js';

/** Bounds of one settings document (a person picks the groups; hundreds would be a mistake). */
export const MAX_ALLOWED_GROUPS = 200;
export const MAX_CREATOR_GROUPS = 100;

export const settingsSchema = z.object({
  targetId: z.string(),
  configured: z.boolean(),
  enabled: z.boolean(),
  allowedGroups: z.array(z.string()),
  creatorGroupIds: z.array(z.string()),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
});
export const params = tenantParamsSchema.extend({ targetId: uuidParam });

export const jitSettingsEndpoints = {
  getJitSettings: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/targets/:targetId/jit-settings',
    auth: 'session',
    tags: ['targets'],
    summary: 'JIT account settings of a target: enabled, allowed privileged groups, who may create JIT accounts',
    params,
    response: { 200: settingsSchema },
  }),
  setJitSettings: endpoint({
    method: 'PUT',
    path: '/api/v1/tenants/:tenant/targets/:targetId/jit-settings',
    auth: 'session',
    tags: ['targets'],
    summary: 'Save the JIT account settings of a target (replaces them; no need to disable first)',
    params,
    body: z.strictObject({
      enabled: z.boolean(),
      allowedGroups: z.array(name(2048)).max(MAX_ALLOWED_GROUPS, { error: `at most ${MAX_ALLOWED_GROUPS} groups` }),
      creatorGroupIds: z.array(uuidParam).max(MAX_CREATOR_GROUPS, { error: `at most ${MAX_CREATOR_GROUPS} operator groups` }).default([]),
    }),
    response: { 200: settingsSchema },
  }),
  reconcile: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/reconcile',
    auth: 'session',
    tags: ['targets'],
    summary: "Compare this tenant's JIT accounts with their targets now and repair drift",
    params: tenantParamsSchema,
    response: {
      200: z.object({ checked: z.number(), drifted: z.number(), repaired: z.number(), failed: z.number(), skipped: z.number() }),
    },
  }),
};
