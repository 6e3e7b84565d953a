/** Approvals inbox and decisions, extensions, break-glass reviews, and the policy simulator. */
import { decodeCursor, encodeCursor, timeAndIdKeys, toPage } from '../pagination.js';
import { endpoints } from '../../api/endpoints.js';
import { routeOf } from '../route-of.js';
import { awaitActivation } from '../../app/activation-outcome.js';
import { approvalInbox } from '../../app/approval-inbox.js';
import { decideRequest } from '../../app/decide-request.js';
import { decideExtension, requestExtension } from '../../app/extend-grant.js';
import { getGrant } from '../../app/grants.js';
import { listReviews, submitReview } from '../../app/reviews.js';
import { simulatePolicy } from '../../app/simulate-policy.js';
import { forbidden } from '../../core/errors.js';
import { can, type Permission } from '../../core/roles.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';
import { grantJson, iso } from '../schemas.js';
import type { GrantRouteDeps } from './grant-routes.js';

export const approvalRoutes =
  (deps: GrantRouteDeps): RouteModule =>
  (app) => {
    const who = async (request: Parameters<typeof principalOf>[0], slug: string, permission?: Permission) => {
      const t = await requireTenant(request, slug, permission);
      const p = principalOf(request);
      return { t, p, actor: { type: 'operator' as const, id: p.operatorId }, viewer: { operatorId: p.operatorId, roles: t.roles } };
    };

    app.route({
      ...routeOf(endpoints.listApprovals),
      handler: async (request) => {
        const { t, viewer } = await who(request, request.params.tenant);
        const after = decodeCursor(request.query.cursor, timeAndIdKeys);
        const page = await approvalInbox(deps, t.tenantId, viewer, { limit: request.query.limit, ...(after ? { after: { createdAt: after[0], id: after[1] } } : {}) });
        return {
          items: page.items.map((i) => ({ ...i, grant: grantJson(i.grant), acted: i.acted.map((a) => ({ ...a, at: a.at.toISOString() })) })),
          nextCursor: page.next ? encodeCursor([page.next.createdAt, page.next.id]) : null,
        };
      },
    });

    app.route({
      ...routeOf(endpoints.approveRequest),
      handler: async (request) => {
        // Refused before any lookup: someone who decides nothing learns nothing of which grants exist.
        const { t, actor, viewer } = await who(request, request.params.tenant, 'approvals.decide');
        const b = request.body;
        const g = await decideRequest(deps, actor, t.tenantId, viewer.operatorId, request.params.grantId, {
          decision: 'approve',
          reason: b.reason,
          durationSeconds: b.durationSeconds,
          startAt: b.startAt ? new Date(b.startAt) : null,
          totp: b.totp,
        });
        const read = () => getGrant(deps, t.tenantId, { ...viewer, roles: [...viewer.roles, 'auditor'] }, g.id);
        return grantJson(g.state === 'activating' ? await awaitActivation(deps.runNow, g.id, read) : await read());
      },
    });

    app.route({
      ...routeOf(endpoints.denyRequest),
      handler: async (request) => {
        const { t, actor, viewer } = await who(request, request.params.tenant, 'approvals.decide');
        const g = await decideRequest(deps, actor, t.tenantId, viewer.operatorId, request.params.grantId, { decision: 'deny', reason: request.body.reason, totp: request.body.totp });
        return grantJson(await getGrant(deps, t.tenantId, { ...viewer, roles: [...viewer.roles, 'auditor'] }, g.id));
      },
    });

    app.route({
      ...routeOf(endpoints.extendGrant),
      handler: async (request) => {
        const { t, actor, viewer } = await who(request, request.params.tenant);
        const r = await requestExtension(deps, actor, t.tenantId, viewer, request.params.grantId, request.body);
        return { applied: r.applied, extensionId: r.extensionId, grant: grantJson(await getGrant(deps, t.tenantId, viewer, r.grant.id)) };
      },
    });

    for (const [key, decision] of [['approveExtension', 'approve'], ['denyExtension', 'deny']] as const) {
      app.route({
        ...routeOf(endpoints[key]),
        handler: async (request) => {
          const { t, actor, viewer } = await who(request, request.params.tenant, 'approvals.decide');
          const r = await decideExtension(deps, actor, t.tenantId, viewer.operatorId, request.params.extensionId, { decision, reason: request.body.reason, totp: request.body.totp });
          return { state: r.state, grant: r.grant ? grantJson(await getGrant(deps, t.tenantId, { ...viewer, roles: [...viewer.roles, 'auditor'] }, r.grant.id)) : null };
        },
      });
    }

    app.route({
      ...routeOf(endpoints.listReviews),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'grants.read_all');
        const { limit, cursor } = request.query;
        const after = decodeCursor(cursor, timeAndIdKeys);
        const rows = await listReviews(deps, t.tenantId, request.query.open === 'true', {
          limit: limit + 1,
          ...(after ? { after: { owedSince: new Date(after[0]), grantId: after[1] } } : {}),
        });
        return toPage(
          rows,
          limit,
          (r) => ({ ...r, owedSince: r.owedSince.toISOString(), reviewedAt: iso(r.reviewedAt) }),
          (r) => [r.owedSince.toISOString(), r.grantId],
        );
      },
    });

    app.route({
      ...routeOf(endpoints.submitReview),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'approvals.decide');
        const p = principalOf(request);
        await submitReview(deps, { type: 'operator', id: p.operatorId }, t.tenantId, p.operatorId, request.params.grantId, request.body);
        return reply.status(204).send();
      },
    });

    app.route({
      ...routeOf(endpoints.simulatePolicy),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.read');
        const b = request.body;
        // Who is a member is for those who see everyone's grants; others simulate their own asks.
        if (!can(t.roles, 'grants.read_all') && b.operatorEmail.toLowerCase() !== principalOf(request).email.toLowerCase()) {
          throw forbidden('you can simulate only your own requests; administrators, approvers and auditors simulate anyone’s');
        }
        return simulatePolicy(deps, t.tenantId, { ...b, at: b.at ? new Date(b.at) : undefined });
      },
    });
  };
