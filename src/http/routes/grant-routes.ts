/**
 * Requests and grants: ask for access, list and read grants, end one early, and reveal the
 * generated password once. Activation and revocation run inline when possible so the caller
 * sees the outcome; the durable schedule still owns them if this process dies midway.
 */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import { awaitActivation } from '../../app/activation-outcome.js';
import type { AppDeps } from '../../app/deps.js';
import { endGrant, getGrant, listGrants, revealCredential } from '../../app/grants.js';
import { requestAccess } from '../../app/request-access.js';
import type { WorkKind } from '../../core/lifecycle.js';
import { principalOf } from '../auth-hook.js';
import { decodeCursor, encodeCursor, timeAndIdKeys } from '../pagination.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';
import { grantJson } from '../schemas.js';

export interface GrantRouteDeps extends AppDeps {
  runNow(grantId: string, kind: WorkKind): Promise<boolean>;
}

export const grantRoutes =
  (deps: GrantRouteDeps): RouteModule =>
  (app) => {
    app.route({
      ...routeOf(endpoints.requestAccess),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'requests.create');
        const p = principalOf(request);
        const b = request.body;
        const grant = await requestAccess(
          deps,
          { type: 'operator', id: p.operatorId },
          t.tenantId,
          { operatorId: p.operatorId, email: p.email, displayName: p.displayName, roles: t.roles },
          { ...b, startAt: b.startAt ? new Date(b.startAt) : null },
        );
        const read = () => getGrant(deps, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, grant.id);
        const view = grant.state === 'activating' ? await awaitActivation(deps.runNow, grant.id, read) : await read();
        return reply.status(201).send(grantJson(view));
      },
    });

    app.route({
      ...routeOf(endpoints.listGrants),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        const q = request.query;
        const c = decodeCursor(q.cursor, timeAndIdKeys);
        const page = await listGrants(deps, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, {
          state: q.state,
          mine: q.mine === 'true',
          targetId: q.targetId,
          ...(q.overdue === 'true' ? { overdue: { now: deps.clock.now() } } : {}),
          limit: q.limit,
          before: c ? { createdAt: new Date(c[0]), id: c[1] } : null,
        });
        return {
          items: page.items.map(grantJson),
          nextCursor: page.next ? encodeCursor([page.next.createdAt.toISOString(), page.next.id]) : null,
        };
      },
    });

    app.route({
      ...routeOf(endpoints.getGrant),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        return grantJson(await getGrant(deps, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, request.params.grantId));
      },
    });

    app.route({
      ...routeOf(endpoints.revokeGrant),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        const viewer = { operatorId: p.operatorId, roles: t.roles };
        await endGrant(deps, { type: 'operator', id: p.operatorId }, t.tenantId, viewer, request.params.grantId, request.body.reason);
        await deps.runNow(request.params.grantId, 'revoke');
        return grantJson(await getGrant(deps, t.tenantId, { ...viewer, roles: [...t.roles, 'auditor'] }, request.params.grantId));
      },
    });

    app.route({
      ...routeOf(endpoints.revealCredential),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        const c = await revealCredential(
          deps,
          { type: 'operator', id: p.operatorId },
          t.tenantId,
          { operatorId: p.operatorId, roles: t.roles },
          request.params.grantId,
          request.body?.totp,
        );
        return { ...c, expiresAt: c.expiresAt?.toISOString() ?? null };
      },
    });
  };
