/**
 * Offboarding: disable a member in one tenant (members.manage) or an operator everywhere
 * (platform administrators), enable again (sign-in only), or just end someone's sessions and
 * API tokens. Answers what was done, step by step.
 */
import { z } from 'zod';
import { forbidden, notFound } from '../../core/errors.js';
import { can } from '../../core/roles.js';
import type { Offboarding } from '../../app/offboarding.js';
import { principalOf } from '../auth-hook.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';
import type { RouteModule } from '../server.js';

const memberParams = tenantParamsSchema.extend({ operatorId: z.uuid({ error: 'must be an operator id (UUID)' }) });
const operatorParams = z.object({ operatorId: z.uuid({ error: 'must be an operator id (UUID)' }) });
const reasonBody = z.strictObject({ reason: z.string().trim().min(3, { error: 'say why (at least 3 characters)' }).max(1000) });
const report = z.object({
  sessionsAndTokensEnded: z.number().int(),
  requestsCancelled: z.number().int(),
  grantsRevoked: z.number().int().describe('Grants whose revocation started; each ends through the revoke job (target, verify, audit)'),
  approvalsRerouted: z.number().int(),
  approvalsFlagged: z.number().int().describe('Requests that can no longer reach a quorum: an alert each'),
});

export const offboardingRoutes =
  (deps: { offboarding: Offboarding }): RouteModule =>
  (app) => {
    const { offboarding } = deps;
    const who = (request: Parameters<typeof principalOf>[0]) => ({ type: 'operator' as const, id: principalOf(request).operatorId });
    const ownerGuard = (slug: string, mine: readonly string[]) => (target: readonly string[]) => {
      if (target.includes('owner') && !can(mine, 'owners.manage')) throw forbidden(`you need the owners.manage permission in tenant ${slug} to do this to an owner`);
    };

    app.post(
      '/api/v1/tenants/:tenant/members/:operatorId/disable',
      { schema: { tags: ['tenants'], summary: 'Offboard a member here: end sessions and tokens, cancel requests, revoke grants, re-route approvals', params: memberParams, body: reasonBody, response: { 200: report } } },
      async (request) => {
        const access = await requireTenant(request, request.params.tenant, 'members.manage');
        return offboarding.disableMember(access.tenantId, request.params.operatorId, who(request), request.body.reason, ownerGuard(access.slug, access.roles));
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/members/:operatorId/enable',
      { schema: { tags: ['tenants'], summary: 'Let a disabled member sign in here again (no grant comes back)', params: memberParams, response: { 204: z.null() } } },
      async (request, reply) => {
        const access = await requireTenant(request, request.params.tenant, 'members.manage');
        await offboarding.enableMember(access.tenantId, request.params.operatorId, who(request));
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/members/:operatorId/end-sessions',
      { schema: { tags: ['tenants'], summary: "End a member's sessions and revoke their API tokens, without disabling them", params: memberParams, body: reasonBody, response: { 200: z.object({ sessionsAndTokensEnded: z.number().int() }) } } },
      async (request) => {
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
    );

    const platformAdmin = (request: Parameters<typeof principalOf>[0]) => {
      const p = principalOf(request);
      if (!p.platformAdmin) throw forbidden('only a platform administrator can disable or enable an operator everywhere');
      return p;
    };

    app.post(
      '/api/v1/operators/:operatorId/disable',
      { schema: { tags: ['operators'], summary: 'Platform administrators: offboard an operator from every tenant', params: operatorParams, body: reasonBody, response: { 200: report } } },
      async (request) => offboarding.disableOperator(request.params.operatorId, { type: 'operator' as const, id: platformAdmin(request).operatorId }, request.body.reason),
    );

    app.post(
      '/api/v1/operators/:operatorId/enable',
      { schema: { tags: ['operators'], summary: 'Platform administrators: let a disabled operator sign in again (no grant comes back)', params: operatorParams, response: { 204: z.null() } } },
      async (request, reply) => {
        await offboarding.enableOperator(request.params.operatorId, { type: 'operator' as const, id: platformAdmin(request).operatorId });
        return reply.status(204).send(null);
      },
    );
  };
