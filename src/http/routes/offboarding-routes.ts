/**
 * Offboarding: disable a member in one tenant (members.manage) or an operator everywhere
 * (platform administrators), enable again (sign-in only), or just end someone's sessions and
 * API tokens. Answers what was done, step by step.
 */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import { forbidden, notFound } from '../../core/errors.js';
import { can } from '../../core/roles.js';
import type { Offboarding } from '../../app/offboarding.js';
import { principalOf } from '../auth-hook.js';
import { requireTenant } from '../tenant-access.js';
import type { RouteModule } from '../server.js';

export const offboardingRoutes =
  (deps: { offboarding: Offboarding }): RouteModule =>
  (app) => {
    const { offboarding } = deps;
    const who = (request: Parameters<typeof principalOf>[0]) => ({ type: 'operator' as const, id: principalOf(request).operatorId });
    const ownerGuard = (slug: string, mine: readonly string[]) => (target: readonly string[]) => {
      if (target.includes('owner') && !can(mine, 'owners.manage')) throw forbidden(`you need the owners.manage permission in tenant ${slug} to do this to an owner`);
    };

    app.route({
      ...routeOf(endpoints.disableMember),
      handler: async (request) => {
        const access = await requireTenant(request, request.params.tenant, 'members.manage');
        return offboarding.disableMember(access.tenantId, request.params.operatorId, who(request), request.body.reason, ownerGuard(access.slug, access.roles));
      },
    });

    app.route({
      ...routeOf(endpoints.enableMember),
      handler: async (request, reply) => {
        const access = await requireTenant(request, request.params.tenant, 'members.manage');
        await offboarding.enableMember(access.tenantId, request.params.operatorId, who(request));
        return reply.status(204).send(null);
      },
    });

    app.route({
      ...routeOf(endpoints.endMemberSessions),
      handler: async (request) => {
        const access = await requireTenant(request, request.params.tenant, 'members.manage');
        const member = await request.server.deps.db
          .selectFrom('memberships')
          .select('roles')
          .where('tenant_id', '=', access.tenantId)
          .where('operator_id', '=', request.params.operatorId)
          .executeTakeFirst();
        if (!member) throw notFound('member');
        ownerGuard(access.slug, access.roles)(member.roles);
        const ended = await offboarding.endSessions(request.params.operatorId, access.tenantId, who(request), request.body.reason);
        return { sessionsAndTokensEnded: ended };
      },
    });

    const platformAdmin = (request: Parameters<typeof principalOf>[0]) => {
      const p = principalOf(request);
      if (!p.platformAdmin) throw forbidden('only a platform administrator can disable or enable an operator everywhere');
      return p;
    };

    app.route({
      ...routeOf(endpoints.disableOperator),
      handler: async (request) => offboarding.disableOperator(request.params.operatorId, { type: 'operator' as const, id: platformAdmin(request).operatorId }, request.body.reason),
    });

    app.route({
      ...routeOf(endpoints.enableOperator),
      handler: async (request, reply) => {
        await offboarding.enableOperator(request.params.operatorId, { type: 'operator' as const, id: platformAdmin(request).operatorId });
        return reply.status(204).send(null);
      },
    });
  };
