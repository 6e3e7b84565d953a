/**
 * JIT account settings per target (owners and admins), and "reconcile now" for a tenant: the
 * reconciler's run limited to that tenant, answering with what it found and repaired.
 */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import { settingsSchema } from '../../api/endpoints/jit-settings.js';
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.js';
import { getJitSettings, setJitSettings, type JitSettingsView } from '../../app/jit-settings.js';
import type { Reconciler } from '../../app/reconcile.js';
import { conflict } from '../../core/errors.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';
import { iso } from '../schemas.js';

const settingsJson = (s: JitSettingsView): z.infer<typeof settingsSchema> => ({ ...s, updatedAt: iso(s.updatedAt) });

export const jitSettingsRoutes =
  (deps: AppDeps, reconciler: Pick<Reconciler, 'runOnce'>): RouteModule =>
  (app) => {
    app.route({
      ...routeOf(endpoints.getJitSettings),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        return settingsJson(await getJitSettings(deps, t.tenantId, request.params.targetId));
      },
    });

    app.route({
      ...routeOf(endpoints.setJitSettings),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        const saved = await setJitSettings(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.params.targetId, request.body);
        return settingsJson(saved);
      },
    });

    app.route({
      ...routeOf(endpoints.reconcile),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        const r = await reconciler.runOnce({ tenantId: t.tenantId, actor: { type: 'operator', id: p.operatorId } });
        if (r.busy) throw conflict(`a reconciliation of tenant ${t.slug} is already running; try again when it has finished`);
        return { checked: r.checked, drifted: r.drifted, repaired: r.repaired, failed: r.failed, skipped: r.skipped };
      },
    });
  };
