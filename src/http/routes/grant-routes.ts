/**
 * Requests and grants: ask for access, list and read grants, end one early, and reveal the
 * generated password once. Activation and revocation run inline when possible so the caller
 * sees the outcome; the durable schedule still owns them if this process dies midway.
 */
import { z } from 'zod';
import { awaitActivation } from '../../app/activation-outcome.js';
import type { AppDeps } from '../../app/deps.js';
import { endGrant, getGrant, listGrants, revealCredential } from '../../app/grants.js';
import { requestAccess } from '../../app/request-access.js';
import { connectDetails } from '../../app/connect-details.js';
import { grantStates, type WorkKind } from '../../core/lifecycle.js';
import { principalOf } from '../auth-hook.js';
import { decodeCursor, encodeCursor, pageQuerySchema, pageSchema, timeAndIdKeys } from '../pagination.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';
import { durationSeconds, grantJson, grantSchema, name, reason, text, uuidParam } from '../schemas.js';

export interface GrantRouteDeps extends AppDeps {
  runNow(grantId: string, kind: WorkKind): Promise<boolean>;
}

const grantParams = tenantParamsSchema.extend({ grantId: uuidParam });
// Only an outer bound: each target kind's own name rule decides (PostgreSQL 63, MariaDB 80, AD 20...).
export const accountNameSchema = name(256);

export const connectSchema = z.object({
  host: z.string().nullable(),
  port: z.number().nullable(),
  database: z.string().nullable(),
  domain: z.string().nullable(),
  command: z.string().nullable(),
  endsAt: z.string(),
});

export const grantRoutes =
  (deps: GrantRouteDeps): RouteModule =>
  (app) => {
    app.post(
      '/api/v1/tenants/:tenant/requests',
      {
        schema: {
          tags: ['grants'],
          summary: 'Ask for entitlements on a target for a duration, with a reason',
          params: tenantParamsSchema,
          body: z.strictObject({
            targetId: uuidParam,
            entitlements: z.array(name(256)).min(1, { error: 'choose at least one entitlement' }).max(50),
            durationSeconds: durationSeconds.optional(),
            reason: reason(1000, 'a reason is required'),
            ticket: text(128).optional(),
            policyId: uuidParam.optional(),
            accountName: accountNameSchema.optional(),
            startAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
            emergency: z.boolean().optional(),
            totp: z.string().regex(/^\d{6}$/, { error: 'a 6-digit code' }).optional(),
            publicKey: z
              .string()
              .min(1)
              .max(16 * 1024)
              .optional()
              .describe('Your public key for targets that issue certificates: OpenSSH line, PEM public key or PKCS#10 CSR'),
          }),
          response: { 201: grantSchema },
        },
      },
      async (request, reply) => {
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
        if (grant.state === 'activating') await awaitActivation(deps, deps.runNow, grant.id);
        const view = await getGrant(deps, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, grant.id);
        return reply.status(201).send(grantJson(view));
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/grants',
      {
        schema: {
          tags: ['grants'],
          params: tenantParamsSchema,
          querystring: pageQuerySchema.extend({
            state: z.enum(grantStates).optional(),
            mine: z.enum(['true', 'false']).optional(),
            targetId: uuidParam.optional(),
            /** Grants past their end and not yet verified revoked: what timebox_overdue_revocations counts. */
            overdue: z.enum(['true', 'false']).optional(),
          }),
          response: { 200: pageSchema(grantSchema) },
        },
      },
      async (request) => {
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
    );

    app.get(
      '/api/v1/tenants/:tenant/grants/:grantId',
      { schema: { tags: ['grants'], params: grantParams, response: { 200: grantSchema } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        return grantJson(await getGrant(deps, t.tenantId, { operatorId: p.operatorId, roles: t.roles }, request.params.grantId));
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/grants/:grantId/revoke',
      {
        schema: {
          tags: ['grants'],
          summary: 'End a grant now (its owner, or an admin); access is taken away and verified',
          params: grantParams,
          body: z.strictObject({ reason: reason(1000, 'a reason is required') }),
          response: { 200: grantSchema },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant);
        const p = principalOf(request);
        const viewer = { operatorId: p.operatorId, roles: t.roles };
        await endGrant(deps, { type: 'operator', id: p.operatorId }, t.tenantId, viewer, request.params.grantId, request.body.reason);
        await deps.runNow(request.params.grantId, 'revoke');
        return grantJson(await getGrant(deps, t.tenantId, { ...viewer, roles: [...t.roles, 'auditor'] }, request.params.grantId));
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/grants/:grantId/credential',
      {
        schema: {
          tags: ['grants'],
          summary: 'Show the generated password, or the issued certificate, private key or token, once, to the grant owner only',
          params: grantParams,
          body: z.strictObject({ totp: z.string().regex(/^\d{6}$/, { error: 'a 6-digit code' }).optional() }).nullish(),
          response: {
            200: z.object({
              username: z.string(),
              password: z.string().nullable(),
              expiresAt: z.string().nullable(),
              certificate: z.string().optional(),
              privateKey: z.string().optional().describe('Generated because no public key was given; not stored after this response'),
              token: z.string().optional(),
              caPublicKey: z.string().optional(),
              connect: connectSchema.optional().describe('How to connect: where, a ready command, and when the access ends'),
            }),
          },
        },
      },
      async (request) => {
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
        const connect = await connectDetails(deps, t.tenantId, request.params.grantId, c.username);
        return { ...c, expiresAt: c.expiresAt?.toISOString() ?? null, ...(connect ? { connect } : {}) };
      },
    );
  };
