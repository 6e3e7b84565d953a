/** Targets: add (config validated by its connector, stored encrypted, tested), list, edit, delete, check, entitlements. */
import { z } from 'zod';
import { deleteTarget } from '../../app/delete-target.js';
import type { AppDeps } from '../../app/deps.js';
import { addTarget, checkTarget, configContext, getTarget, listTargetEntitlements, listTargets, toTargetView } from '../../app/targets.js';
import { describeKind, secretKeysOf } from '../../connectors/kind-catalog.js';
import { updateTarget } from '../../app/update-target.js';
import { principalOf } from '../auth-hook.js';
import { decodeCursor, oneStringKey, pageQuerySchema, pageSchema, encodeCursor } from '../pagination.js';
import type { RouteModule } from '../server.js';
import { tenantParamsSchema, requireTenant } from '../tenant-access.js';
import { name, text, uuidParam } from '../schemas.js';

const checkItemSchema = z.object({ name: z.string(), ok: z.boolean(), message: z.string() });
const targetSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.string(),
  accountName: z
    .enum(['per-person', 'requester'])
    .describe("'per-person': a JIT account whose name the requester may choose; 'requester': the credential names the requester (their e-mail), no name to choose"),
  createdAt: z.string(),
  updatedAt: z.string(),
  lastCheck: z
    .object({ ok: z.boolean(), at: z.string(), items: z.array(checkItemSchema) })
    .nullable()
    .describe('The last connection test; null before any'),
  broken: z.boolean().describe('The last connection test failed (saved anyway, or failing since): grants may not work'),
});
const checkSchema = z.object({ ok: z.boolean(), items: z.array(checkItemSchema) });
const saveUnchecked = z
  .boolean()
  .optional()
  .describe('Save even though the connection test fails; the target is then listed as broken until a test passes');
const targetName = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, { error: 'use letters, digits, spaces, . _ -' });
const targetParams = tenantParamsSchema.extend({ targetId: uuidParam });

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

    app.post(
      '/api/v1/tenants/:tenant/targets',
      {
        schema: {
          tags: ['targets'],
          summary:
            'Connect a target; its configuration is validated and tested before it is stored (encrypted). A failed test is refused (422, details.check) unless saveUnchecked',
          params: tenantParamsSchema,
          body: z.strictObject({
            name: targetName,
            kind: name(32),
            config: z.record(z.string(), z.unknown()),
            saveUnchecked,
          }),
          response: { 201: z.object({ target: targetSchema, check: checkSchema }) },
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        const r = await addTarget(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.body);
        return reply.status(201).send({ target: targetJson(r.target), check: r.check });
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/targets',
      { schema: { tags: ['targets'], params: tenantParamsSchema, querystring: pageQuerySchema, response: { 200: pageSchema(targetSchema) } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        const after = decodeCursor(request.query.cursor, oneStringKey)?.[0];
        const page = await listTargets(deps, t.tenantId, { limit: request.query.limit, after });
        return { items: page.items.map(targetJson), nextCursor: page.next ? encodeCursor([page.next]) : null };
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/targets/:targetId',
      { schema: { tags: ['targets'], params: targetParams, response: { 200: targetSchema } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        return targetJson(toTargetView(await getTarget(deps, t.tenantId, request.params.targetId)));
      },
    );

    app.put(
      '/api/v1/tenants/:tenant/targets/:targetId',
      {
        schema: {
          tags: ['targets'],
          summary:
            'Rename a target or change its settings; config keys left out keep their value. New settings are tested first: a failed test is refused (422) unless saveUnchecked, and always while grants are live (409)',
          params: targetParams,
          body: z.strictObject({
            name: targetName.optional(),
            config: z.record(z.string(), z.unknown()).optional(),
            saveUnchecked,
          }),
          response: { 200: z.object({ target: targetSchema, check: checkSchema.nullable() }) },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        const r = await updateTarget(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.params.targetId, request.body);
        return { target: targetJson(r.target), check: r.check };
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/targets/:targetId/settings',
      {
        schema: {
          tags: ['targets'],
          summary: "A target's stored settings for editing, without its secrets (the kind's writeOnly config keys)",
          params: targetParams,
          response: { 200: z.object({ config: z.record(z.string(), z.unknown()), secretKeys: z.array(z.string()) }) },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const target = await getTarget(deps, t.tenantId, request.params.targetId);
        const definition = deps.connectors.definition(target.kind);
        const secretKeys = definition ? secretKeysOf(describeKind(definition)) : [];
        const stored = JSON.parse(deps.secrets.decrypt(target.config_enc, configContext(target.id))) as Record<string, unknown>;
        const config = Object.fromEntries(Object.entries(stored).filter(([k]) => !secretKeys.includes(k)));
        return { config, secretKeys };
      },
    );

    app.delete(
      '/api/v1/tenants/:tenant/targets/:targetId',
      {
        schema: {
          tags: ['targets'],
          summary: 'Delete a target; refused (409) while any of its grants is not over. Past grants and the audit trail keep its name',
          params: targetParams,
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.manage');
        const p = principalOf(request);
        await deleteTarget(deps, { type: 'operator', id: p.operatorId }, t.tenantId, request.params.targetId);
        return reply.status(204).send();
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/targets/:targetId/check',
      { schema: { tags: ['targets'], summary: 'Test connection', params: targetParams, response: { 200: checkSchema } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        return checkTarget(deps, await getTarget(deps, t.tenantId, request.params.targetId));
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/targets/:targetId/entitlements',
      {
        schema: {
          tags: ['targets'],
          summary: 'What can be granted on this target, live from the target',
          params: targetParams,
          querystring: pageQuerySchema.extend({ search: text(100).optional() }),
          response: {
            200: pageSchema(z.object({ externalId: z.string(), displayName: z.string(), description: z.string().optional() })),
          },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'targets.read');
        const target = await getTarget(deps, t.tenantId, request.params.targetId);
        const cursor = decodeCursor(request.query.cursor, oneStringKey)?.[0] ?? null;
        const page = await listTargetEntitlements(deps, target, { search: request.query.search, cursor, limit: request.query.limit });
        return { items: page.items, nextCursor: page.nextCursor ? encodeCursor([page.nextCursor]) : null };
      },
    );
  };
