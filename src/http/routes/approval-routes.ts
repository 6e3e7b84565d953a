/** Approvals inbox and decisions, extensions, break-glass reviews, and the policy simulator. */
import { z } from 'zod';
import { awaitActivation } from '../../app/activation-outcome.js';
import { approvalInbox } from '../../app/approval-inbox.js';
import { decideRequest } from '../../app/decide-request.js';
import { decideExtension, requestExtension } from '../../app/extend-grant.js';
import { getGrant } from '../../app/grants.js';
import { listReviews, submitReview } from '../../app/reviews.js';
import { simulatePolicy } from '../../app/simulate-policy.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';
import { durationSeconds, grantJson, grantSchema, iso, name, note, reason, text, uuidParam } from '../schemas.js';
import type { GrantRouteDeps } from './grant-routes.js';

const grantParams = tenantParamsSchema.extend({ grantId: uuidParam });
const inboxItem = z.object({
  kind: z.enum(['request', 'extension']),
  extensionId: z.string().nullable(),
  extensionSeconds: z.number().nullable(),
  extensionReason: z.string().nullable(),
  grant: grantSchema,
  level: z.number(),
  levels: z.number(),
  quorum: z.number(),
  approvals: z.number(),
  acted: z.array(z.object({ approverId: z.string(), approverEmail: z.string(), decision: z.string(), level: z.number(), at: z.string() })),
  cannotDecide: z.string().nullable(),
});
const totp = z.string().regex(/^\d{6}$/, { error: 'a 6-digit code' }).optional();

export const approvalRoutes =
  (deps: GrantRouteDeps): RouteModule =>
  (app) => {
    const who = async (request: Parameters<typeof principalOf>[0], slug: string) => {
      const t = await requireTenant(request, slug);
      const p = principalOf(request);
      return { t, p, actor: { type: 'operator' as const, id: p.operatorId }, viewer: { operatorId: p.operatorId, roles: t.roles } };
    };

    app.get(
      '/api/v1/tenants/:tenant/approvals',
      { schema: { tags: ['approvals'], summary: 'Pending requests and extensions you may decide on', params: tenantParamsSchema, response: { 200: z.object({ items: z.array(inboxItem) }) } } },
      async (request) => {
        const { t, viewer } = await who(request, request.params.tenant);
        const items = await approvalInbox(deps, t.tenantId, viewer);
        return { items: items.map((i) => ({ ...i, grant: grantJson(i.grant), acted: i.acted.map((a) => ({ ...a, at: a.at.toISOString() })) })) };
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/grants/:grantId/approve',
      {
        schema: {
          tags: ['approvals'],
          summary: 'Approve at your level; you may shorten the duration or move the start, never lengthen',
          params: grantParams,
          body: z.strictObject({ reason: note(1000).optional(), durationSeconds: durationSeconds.optional(), startAt: z.iso.datetime({ offset: true }).optional(), totp }),
          response: { 200: grantSchema },
        },
      },
      async (request) => {
        const { t, actor, viewer } = await who(request, request.params.tenant);
        const b = request.body;
        const g = await decideRequest(deps, actor, t.tenantId, viewer.operatorId, request.params.grantId, {
          decision: 'approve',
          reason: b.reason,
          durationSeconds: b.durationSeconds,
          startAt: b.startAt ? new Date(b.startAt) : null,
          totp: b.totp,
        });
        if (g.state === 'activating') await awaitActivation(deps, deps.runNow, g.id);
        return grantJson(await getGrant(deps, t.tenantId, { ...viewer, roles: [...viewer.roles, 'auditor'] }, g.id));
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/grants/:grantId/deny',
      { schema: { tags: ['approvals'], params: grantParams, body: z.strictObject({ reason: reason(1000, 'say why'), totp }), response: { 200: grantSchema } } },
      async (request) => {
        const { t, actor, viewer } = await who(request, request.params.tenant);
        const g = await decideRequest(deps, actor, t.tenantId, viewer.operatorId, request.params.grantId, { decision: 'deny', reason: request.body.reason, totp: request.body.totp });
        return grantJson(await getGrant(deps, t.tenantId, { ...viewer, roles: [...viewer.roles, 'auditor'] }, g.id));
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/grants/:grantId/extend',
      {
        schema: {
          tags: ['grants'],
          summary: 'Ask for more time on an active grant (within the policy cap)',
          params: grantParams,
          body: z.strictObject({ seconds: durationSeconds, reason: reason(1000, 'a reason is required') }),
          response: { 200: z.object({ applied: z.boolean(), extensionId: z.string(), grant: grantSchema }) },
        },
      },
      async (request) => {
        const { t, actor, viewer } = await who(request, request.params.tenant);
        const r = await requestExtension(deps, actor, t.tenantId, viewer.operatorId, request.params.grantId, request.body);
        return { applied: r.applied, extensionId: r.extensionId, grant: grantJson(await getGrant(deps, t.tenantId, viewer, r.grant.id)) };
      },
    );

    for (const decision of ['approve', 'deny'] as const) {
      app.post(
        `/api/v1/tenants/:tenant/extensions/:extensionId/${decision}`,
        {
          schema: {
            tags: ['approvals'],
            params: tenantParamsSchema.extend({ extensionId: uuidParam }),
            body: z.strictObject({ reason: note(1000).optional(), totp }),
            response: { 200: z.object({ state: z.string(), grant: grantSchema.nullable() }) },
          },
        },
        async (request) => {
          const { t, actor, viewer } = await who(request, request.params.tenant);
          const r = await decideExtension(deps, actor, t.tenantId, viewer.operatorId, request.params.extensionId, { decision, reason: request.body.reason, totp: request.body.totp });
          return { state: r.state, grant: r.grant ? grantJson(await getGrant(deps, t.tenantId, { ...viewer, roles: [...viewer.roles, 'auditor'] }, r.grant.id)) : null };
        },
      );
    }

    app.get(
      '/api/v1/tenants/:tenant/reviews',
      {
        schema: {
          tags: ['approvals'],
          summary: 'Break-glass grants and their after-the-fact reviews',
          params: tenantParamsSchema,
          querystring: z.object({ open: z.enum(['true', 'false']).default('true') }),
          response: {
            200: z.object({
              items: z.array(z.object({ grantId: z.string(), requesterEmail: z.string(), reason: z.string(), owedSince: z.string(), reviewerId: z.string().nullable(), reviewedAt: z.string().nullable(), verdict: z.string().nullable(), notes: z.string().nullable() })),
            }),
          },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'grants.read_all');
        const items = await listReviews(deps, t.tenantId, request.query.open === 'true');
        return { items: items.map((r) => ({ ...r, owedSince: r.owedSince.toISOString(), reviewedAt: iso(r.reviewedAt) })) };
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/grants/:grantId/review',
      {
        schema: {
          tags: ['approvals'],
          params: grantParams,
          body: z.strictObject({ verdict: z.enum(['justified', 'not_justified']), notes: reason(2000, 'write what you found') }),
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'approvals.decide');
        const p = principalOf(request);
        await submitReview(deps, { type: 'operator', id: p.operatorId }, t.tenantId, p.operatorId, request.params.grantId, request.body);
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/policies/simulate',
      {
        schema: {
          tags: ['policies'],
          summary: 'What would happen if this person asked for this, at this time? Writes nothing.',
          params: tenantParamsSchema,
          body: z.strictObject({
            operatorEmail: name(254).min(3, { error: 'must be an email address' }),
            targetId: uuidParam,
            entitlements: z.array(name(256)).min(1).max(50),
            durationSeconds: durationSeconds.optional(),
            at: z.iso.datetime({ offset: true }).optional(),
            ticket: text(128).optional(),
            emergency: z.boolean().optional(),
          }),
          response: {
            200: z.object({
              policy: z.string().nullable(),
              route: z.string(),
              refusals: z.array(z.string()),
              autoApprovedBy: z.string().nullable(),
              approvalLevels: z.array(z.object({ level: z.number(), quorum: z.number(), approvers: z.array(z.string()) })),
            }),
          },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'policies.read');
        const b = request.body;
        return simulatePolicy(deps, t.tenantId, { ...b, at: b.at ? new Date(b.at) : undefined });
      },
    );
  };
