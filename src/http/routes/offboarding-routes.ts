/**
 * Offboarding: disable a member in one tenant (members.manage) or an operator everywhere
 * (platform administrators), enable again (sign-in only), or just end someone's sessions and
 * API tokens (their gateway SSH keys go too). Answers what was done, step by step.
 */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import { forbidden } from '../../core/errors.js';
import { can } from '../../core/roles.js';
import type { MemberTarget, Offboarding } from '../../app/offboarding.js';
import { principalOf } from '../auth-hook.js';
import { requireTenant } from '../tenant-access.js';
import type { RouteModule } from '../server.js';

export const offboardingRoutes =
  (deps: { offboarding: Offboarding }): RouteModule =>
  (app) => {
    const { offboarding } = deps;
    const who = (request: Parameters<typeof principalOf>[0]) => ({ type: 'operator' as const, id: principalOf(request).operatorId });
    // A platform administrator is an owner of every tenant, and what is done to them (sessions
    // ended, disabled) reaches beyond this tenant: the same guard as for an owner.
    const ownerGuard = (slug: string, mine: readonly string[]) => (target: MemberTarget) => {
      if (can(mine, 'owners.manage')) return;
      if (target.platformAdmin) throw forbidden(`you need the owners.manage permission in tenant ${slug} to do this to a platform administrator`);
      if (target.roles.includes('owner')) throw forbidden(`you need the owners.manage permission in tenant ${slug} to do this to an owner`);
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
        await offboarding.enableMember(access.tenantId, request.params.operatorId, who(request), ownerGuard(access.slug, access.roles));
        return reply.status(204).send(null);
      },
    });

    app.route({
      ...routeOf(endpoints.endMemberSessions),
      handler: async (request) => {
        const access = await requireTenant(request, request.params.tenant, 'members.manage');
        ownerGuard(access.slug, access.roles)(await offboarding.memberOf(access.tenantId, request.params.operatorId));
        // A platform administrator's reach is every tenant: theirs may end the person's sign-ins everywhere.
        const everywhere = principalOf(request).platformAdmin;
        const ended = await offboarding.endSessions(request.params.operatorId, access.tenantId, who(request), request.body.reason, everywhere);
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
