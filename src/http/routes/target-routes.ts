/** Targets: add (config validated by its connector, stored encrypted, tested), list, edit, delete, check, entitlements. */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import { deleteTarget } from '../../app/delete-target.js';
import type { AppDeps } from '../../app/deps.js';
import { addTarget, checkTarget, configContext, getTarget, listTargetEntitlements, listTargets, toTargetView } from '../../app/targets.js';
import { describeKind, secretKeysOf } from '../../connectors/kind-catalog.js';
import { updateTarget } from '../../app/update-target.js';
import { principalOf } from '../auth-hook.js';
import { decodeCursor, oneStringKey, encodeCursor } from '../pagination.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';

export const targetRoutes =
  (deps: AppDeps): RouteModule =>
  (app) => {
    // The kind's account-name mode goes with every target, so a form knows whether to ask for a name.
    const targetJson = (t: ReturnType<typeof toTargetView>) => ({
      ...t,
      accountName: deps.connectors.definition(t.kind)?.accountName ?? 'per-person',
      createdAt: t.createdAt.toISOString(),
      updatedAt: t.updatedAt.toISOString(),
      lastCheck: t.lastCheck ? { ...t.lastCheck, at: t.lastCheck.at.toISOString() } : null,
      broken: t.lastCheck?.ok === false,
    });

    app.route({
      ...routeOf(endpoints.createTarget),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        const r = await addTarget(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.body);
        return reply.status(201).send({ target: targetJson(r.target), check: r.check });
      },
    });

    app.route({
      ...routeOf(endpoints.listTargets),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        const after = decodeCursor(request.query.cursor, oneStringKey)?.[0];
        const page = await listTargets(deps, t.tenantId, { limit: request.query.limit, after });
        return { items: page.items.map(targetJson), nextCursor: page.next ? encodeCursor([page.next]) : null };
      },
    });

    app.route({
      ...routeOf(endpoints.getTarget),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        return targetJson(toTargetView(await getTarget(deps, t.tenantId, request.params.targetId)));
      },
    });

    app.route({
      ...routeOf(endpoints.updateTarget),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        const r = await updateTarget(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.params.targetId, request.body);
        return { target: targetJson(r.target), check: r.check };
      },
    });

    app.route({
      ...routeOf(endpoints.getTargetSettings),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const target = await getTarget(deps, t.tenantId, request.params.targetId);
        const definition = deps.connectors.definition(target.kind);
        const secretKeys = definition ? secretKeysOf(describeKind(definition)) : [];
        const stored = JSON.parse(deps.secrets.decrypt(target.config_enc, configContext(target.id))) as Record<string, unknown>;
        const config = Object.fromEntries(Object.entries(stored).filter(([k]) => !secretKeys.includes(k)));
        return { config, secretKeys };
      },
    });

    app.route({
      ...routeOf(endpoints.deleteTarget),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        await deleteTarget(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.params.targetId);
        return reply.status(204).send();
      },
    });

    app.route({
      ...routeOf(endpoints.checkTarget),
      handler: async (request) => {
        // A test acts on the target (on AD it creates and deletes a probe user, with the service
        // password) and records its result on the target: for those who manage targets.
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        return checkTarget(deps, await getTarget(deps, t.tenantId, request.params.targetId));
      },
    });

    app.route({
      ...routeOf(endpoints.listEntitlements),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        const target = await getTarget(deps, t.tenantId, request.params.targetId);
        const cursor = decodeCursor(request.query.cursor, oneStringKey)?.[0] ?? null;
        const page = await listTargetEntitlements(deps, target, { search: request.query.search, cursor, limit: request.query.limit });
        return { items: page.items, nextCursor: page.nextCursor ? encodeCursor([page.nextCursor]) : null };
      },
    });
  };
