/** The audit log: filtered list, JSON-lines export, chain verification; and open alerts. */
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.js';
import { exportAuditEvents, listAuditEvents, type AuditFilter } from '../../audit/audit-query.js';
import { verifyAuditLog, type AuditTrust } from '../../audit/audit-verify.js';
import { auditNames } from '../../audit/audit-names.js';
import { forbidden } from '../../core/errors.js';
import { principalOf } from '../auth-hook.js';
import { pageQuerySchema, pageSchema } from '../pagination.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';
import { text } from '../schemas.js';


const eventSchema = z.object({
  seq: z.string(),
  id: z.string(),
  at: z.string(),
  tenant_id: z.string().nullable(),
  actor_type: z.string(),
  actor_id: z.string().nullable(),
  action: z.string(),
  subject_type: z.string(),
  subject_id: z.string().nullable(),
  reason: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  position: z.string().nullable(),
  prev_hash: z.string().nullable(),
  hash: z.string().nullable(),
  sealed_at: z.string().nullable(),
  sealed: z.boolean(),
});

/** The list shows people and things by name; the ids stay in the event. */
const listedEventSchema = eventSchema.extend({
  names: z.object({
    actor: z.string().nullable().describe("The acting operator's email"),
    person: z.string().nullable().describe("Whose access or account it is, or the operator acted on"),
    target: z.string().nullable(),
    account: z.string().nullable().describe('The account name on the target'),
    subject: z.string().nullable().describe("The subject's own name (policy, group, target, operator)"),
  }),
});

const verifySchema = z.object({
  ok: z.boolean(),
  logId: z.string(),
  checked: z.number(),
  unsealed: z.number(),
  problems: z.array(z.object({ tenant_id: z.string().nullable(), position: z.string().nullable(), problem: z.string() })),
  truncated: z.boolean(),
  chains: z.array(
    z.object({
      tenant_id: z.string().nullable(),
      events: z.number(),
      head: z.object({ position: z.string(), hash: z.string() }).nullable(),
      checkpoint: z.object({ position: z.string(), at: z.string() }).nullable(),
    }),
  ),
  checkpoints: z.object({ trusted: z.number(), otherLogs: z.number(), unknownKey: z.number() }),
  unreadableWitnessLines: z.number(),
});

/** What the audit routes need besides the database: the keys and witnesses checkpoints are checked with. */
export interface AuditRouteDeps {
  trust: AuditTrust;
  signing: { keyId: string; publicKeyPem: string };
}

const filterSchema = z.object({
  action: z.string().max(100).regex(/^[a-z_.*]+$/, { error: 'an action such as grant.revoked or grant.*' }).optional(),
  actorId: text(100).optional(),
  subjectId: text(100).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

function toFilter(tenantId: string, q: z.infer<typeof filterSchema>): AuditFilter {
  return {
    tenantId,
    action: q.action,
    actorId: q.actorId,
    subjectId: q.subjectId,
    since: q.since ? new Date(q.since) : undefined,
    until: q.until ? new Date(q.until) : undefined,
  };
}

export const auditRoutes =
  (deps: AppDeps, audit: AuditRouteDeps): RouteModule =>
  (app) => {
    app.get(
      '/api/v1/tenants/:tenant/audit',
      {
        schema: {
          tags: ['audit'],
          params: tenantParamsSchema,
          querystring: pageQuerySchema.extend(filterSchema.shape),
          response: { 200: pageSchema(listedEventSchema) },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const { limit, cursor, ...filter } = request.query;
        const page = await listAuditEvents(deps.db, { ...toFilter(t.tenantId, filter), limit, cursor: cursor ?? null });
        const names = await auditNames(deps.db, t.tenantId, page.items);
        return { ...page, items: page.items.map((e, i) => ({ ...e, names: names[i]! })) };
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/audit/export',
      {
        schema: {
          tags: ['audit'],
          summary: 'Every event of the tenant as JSON lines, oldest first, with its hashes',
          params: tenantParamsSchema,
          querystring: filterSchema,
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const out = new PassThrough();
        void exportAuditEvents(deps.db, toFilter(t.tenantId, request.query), async (line) => {
          if (!out.write(`${line}\n`)) await new Promise((r) => out.once('drain', r));
        })
          .then(() => out.end())
          .catch((err) => {
            request.log.error({ err }, 'audit export failed midway');
            out.destroy(err as Error);
          });
        return reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="audit.jsonl"').send(out);
      },
    );

    app.post(
      '/api/v1/audit/verify',
      {
        schema: {
          tags: ['audit'],
          summary: 'Check every chain against itself and the signed checkpoints: edited, deleted, reordered or rewritten events are reported',
          response: { 200: verifySchema },
        },
      },
      async (request) => {
        // Spans all tenants: only a platform admin may read its verdict.
        if (!principalOf(request).platformAdmin) throw forbidden('only a platform administrator can verify the whole audit log');
        return verifyAuditLog(deps.db, audit.trust);
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/audit/verify',
      {
        schema: {
          tags: ['audit'],
          summary: "Check the tenant's chain against itself and the signed checkpoints",
          params: tenantParamsSchema,
          response: { 200: verifySchema },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        return verifyAuditLog(deps.db, audit.trust, { tenantId: t.tenantId });
      },
    );

    app.get(
      '/api/v1/audit/public-key',
      {
        schema: {
          tags: ['audit'],
          summary: 'The public key that checkpoints are signed with, for offline verification of exports',
          response: { 200: z.object({ keyId: z.string(), publicKeyPem: z.string() }) },
        },
      },
      async () => ({ keyId: audit.signing.keyId, publicKeyPem: audit.signing.publicKeyPem }),
    );

    app.get(
      '/api/v1/tenants/:tenant/alerts',
      {
        schema: {
          tags: ['audit'],
          summary: 'Open problems that need a person (e.g. a revocation that keeps failing)',
          params: tenantParamsSchema,
          querystring: z.object({ all: z.enum(['true', 'false']).optional() }),
          response: {
            200: z.object({
              items: z.array(
                z.object({
                  id: z.string(),
                  grantId: z.string().nullable(),
                  severity: z.string(),
                  message: z.string(),
                  createdAt: z.string(),
                  resolvedAt: z.string().nullable(),
                }),
              ),
            }),
          },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'grants.read_all');
        let q = deps.db.selectFrom('alerts').selectAll().where('tenant_id', '=', t.tenantId);
        if (request.query.all !== 'true') q = q.where('resolved_at', 'is', null);
        const rows = await q.orderBy('created_at', 'desc').limit(500).execute();
        return {
          items: rows.map((a) => ({
            id: a.id,
            grantId: a.grant_id,
            severity: a.severity,
            message: a.message,
            createdAt: a.created_at.toISOString(),
            resolvedAt: a.resolved_at?.toISOString() ?? null,
          })),
        };
      },
    );
  };

