/**
 * JIT account settings per target (owners and admins), and "reconcile now" for a tenant: the
 * reconciler's run limited to that tenant, answering with what it found and repaired.
 */
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.js';
import { getJitSettings, MAX_ALLOWED_GROUPS, MAX_CREATOR_GROUPS, setJitSettings, type JitSettingsView } from '../../app/jit-settings.js';
import type { Reconciler } from '../../app/reconcile.js';
import { conflict } from '../../core/errors.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';
import { iso, name, uuidParam } from '../schemas.js';

const settingsSchema = z.object({
  targetId: z.string(),
  configured: z.boolean(),
  enabled: z.boolean(),
  allowedGroups: z.array(z.string()),
  creatorGroupIds: z.array(z.string()),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
});
const settingsJson = (s: JitSettingsView): z.infer<typeof settingsSchema> => ({ ...s, updatedAt: iso(s.updatedAt) });
const params = tenantParamsSchema.extend({ targetId: uuidParam });

export const jitSettingsRoutes =
  (deps: AppDeps, reconciler: Pick<Reconciler, 'runOnce'>): RouteModule =>
  (app) => {
    app.get(
      '/api/v1/tenants/:tenant/targets/:targetId/jit-settings',
      {
        schema: {
          tags: ['targets'],
          summary: 'JIT account settings of a target: enabled, allowed privileged groups, who may create JIT accounts',
          params,
          response: { 200: settingsSchema },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        return settingsJson(await getJitSettings(deps, t.tenantId, request.params.targetId));
      },
    );

    app.put(
      '/api/v1/tenants/:tenant/targets/:targetId/jit-settings',
      {
        schema: {
          tags: ['targets'],
          summary: 'Save the JIT account settings of a target (replaces them; no need to disable first)',
          params,
          body: z.strictObject({
            enabled: z.boolean(),
            allowedGroups: z.array(name(2048)).max(MAX_ALLOWED_GROUPS, { error: `at most ${MAX_ALLOWED_GROUPS} groups` }),
            creatorGroupIds: z.array(uuidParam).max(MAX_CREATOR_GROUPS, { error: `at most ${MAX_CREATOR_GROUPS} operator groups` }).default([]),
          }),
          response: { 200: settingsSchema },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        const saved = await setJitSettings(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.params.targetId, request.body);
        return settingsJson(saved);
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/reconcile',
      {
        schema: {
          tags: ['targets'],
          summary: "Compare this tenant's JIT accounts with their targets now and repair drift",
          params: tenantParamsSchema,
          response: {
            200: z.object({ checked: z.number(), drifted: z.number(), repaired: z.number(), failed: z.number(), skipped: z.number() }),
          },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        const r = await reconciler.runOnce({ tenantId: t.tenantId, actor: { type: 'operator', id: p.operatorId } });
        if (r.busy) throw conflict(`a reconciliation of tenant ${t.slug} is already running; try again when it has finished`);
        return { checked: r.checked, drifted: r.drifted, repaired: r.repaired, failed: r.failed, skipped: r.skipped };
      },
    );
  };
