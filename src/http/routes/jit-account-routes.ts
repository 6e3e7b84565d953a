/** JIT accounts: the person's (or, for admins, everyone's) accounts; enable again, rotate the password, delete. */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import { getGrant } from '../../app/grants.js';
import { deleteJitAccount } from '../../app/delete-jit-account.js';
import { awaitActivation } from '../../app/activation-outcome.js';
import { enableJitAccount, listJitAccounts } from '../../app/jit-accounts.js';
import { confirmBinding } from '../../app/confirm-binding.js';
import { rotateJitAccountPassword } from '../../app/rotate-jit-password.js';
import { principalOf } from '../auth-hook.js';
import { decodeCursor, encodeCursor, oneIdKey } from '../pagination.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';
import { grantJson } from '../schemas.js';
import type { GrantRouteDeps } from './grant-routes.js';

export const jitAccountRoutes =
  (deps: GrantRouteDeps): RouteModule =>
  (app) => {
    app.route({
      ...routeOf(endpoints.listJitAccounts),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        const after = decodeCursor(request.query.cursor, oneIdKey)?.[0];
        const page = await listJitAccounts(deps, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, {
          mine: request.query.mine === 'true',
          limit: request.query.limit,
          after,
        });
        return {
          items: page.items.map((a) => ({ ...a, confirmedAt: a.confirmedAt?.toISOString() ?? null, createdAt: a.createdAt.toISOString(), updatedAt: a.updatedAt.toISOString() })),
          nextCursor: page.next ? encodeCursor([page.next]) : null,
        };
      },
    });

    app.route({
      ...routeOf(endpoints.enableJitAccount),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'requests.create');
        const p = principalOf(request);
        const grant = await enableJitAccount(
          deps,
          { type: 'operator', id: p.operatorId },
          t.tenantId,
          { operatorId: p.operatorId, email: p.email, displayName: p.displayName, roles: t.roles },
          request.params.accountId,
          { ...request.body, startAt: request.body.startAt ? new Date(request.body.startAt) : null },
        );
        // Answered with the outcome (active, or failed and cleaned up), as a new request is.
        const read = () => getGrant(deps, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, grant.id);
        return reply.status(201).send(grantJson(grant.state === 'activating' ? await awaitActivation(deps.runNow, grant.id, read) : await read()));
      },
    });

    app.route({
      ...routeOf(endpoints.rotateJitAccount),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'requests.create');
        const p = principalOf(request);
        const rotated = await rotateJitAccountPassword(deps, { type: 'operator', id: p.operatorId }, t.tenantId, p.operatorId, request.params.accountId, request.body.totp);
        return reply.header('cache-control', 'no-store').send(rotated);
      },
    });

    app.route({
      ...routeOf(endpoints.confirmBinding),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        const r = await confirmBinding(deps, { type: 'operator', id: p.operatorId }, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, request.params.accountId);
        return { confirmedAt: r.confirmedAt.toISOString() };
      },
    });

    app.route({
      ...routeOf(endpoints.deleteJitAccount),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        await deleteJitAccount(deps, { type: 'operator', id: p.operatorId }, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, request.params.accountId);
        return reply.status(204).send();
      },
    });
  };
