/** The audit log: filtered list, JSON-lines export, chain verification; and open alerts. */
import { decodeCursor, timeAndIdKeys, toPage } from '../pagination.js';
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import { filterSchema } from '../../api/endpoints/audit.js';
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import type { Kysely } from 'kysely';
import type { AppDeps } from '../../app/deps.js';
import type { Database } from '../../store/schema.js';
import { exportAuditEvents, listAuditEvents, type AuditFilter } from '../../audit/audit-query.js';
import { verifyAuditLog, type AuditTrust, type VerifyResult } from '../../audit/audit-verify.js';
import { auditNames } from '../../audit/audit-names.js';
import { forbidden } from '../../core/errors.js';
import { principalOf } from '../auth-hook.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';

/** What the audit routes need besides the database: the keys and witnesses checkpoints are checked with. */
export interface AuditRouteDeps {
  trust: AuditTrust;
  signing: { keyId: string; publicKeyPem: string };
}

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
    app.route({
      ...routeOf(endpoints.listAudit),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        const { limit, cursor, ...filter } = request.query;
        const page = await listAuditEvents(deps.db, { ...toFilter(t.tenantId, filter), limit, cursor: cursor ?? null });
        const names = await auditNames(deps.db, t.tenantId, page.items);
        return { ...page, items: page.items.map((e, i) => ({ ...e, names: names[i]! })) };
      },
    });

    app.route({
      ...routeOf(endpoints.exportAudit),
      handler: async (request, reply) => {
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
    });

    app.route({
      ...routeOf(endpoints.verifyPlatformAudit),
      handler: async (request) => {
        // Spans all tenants: only a platform admin may read its verdict.
        if (!principalOf(request).platformAdmin) throw forbidden('only a platform administrator can verify the whole audit log');
        return withTenantSlugs(deps.db, await verifyAuditLog(deps.db, audit.trust));
      },
    });

    app.route({
      ...routeOf(endpoints.verifyAudit),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'audit.read');
        return withTenantSlugs(deps.db, await verifyAuditLog(deps.db, audit.trust, { tenantId: t.tenantId }));
      },
    });

    app.route({
      ...routeOf(endpoints.auditPublicKey),
      handler: async () => ({ keyId: audit.signing.keyId, publicKeyPem: audit.signing.publicKeyPem }),
    });

    app.route({
      ...routeOf(endpoints.listAlerts),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'grants.read_all');
        const { limit, cursor } = request.query;
        const before = decodeCursor(cursor, timeAndIdKeys);
        let q = deps.db.selectFrom('alerts').selectAll().where('tenant_id', '=', t.tenantId);
        if (request.query.all !== 'true') q = q.where('resolved_at', 'is', null);
        if (before) q = q.where((eb) => eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(new Date(before[0]), before[1])));
        const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
        return toPage(
          rows,
          limit,
          (a) => ({
            id: a.id,
            grantId: a.grant_id,
            severity: a.severity,
            message: a.message,
            createdAt: a.created_at.toISOString(),
            resolvedAt: a.resolved_at?.toISOString() ?? null,
          }),
          (a) => [a.created_at.toISOString(), a.id],
        );
      },
    });
  };

/** The report with each chain's tenant named by its slug as well as its id: people know tenants by slug. */
async function withTenantSlugs(db: Kysely<Database>, report: VerifyResult) {
  const ids = [...new Set([...report.chains, ...report.problems].map((c) => c.tenant_id).filter((id): id is string => id !== null))];
  const rows = ids.length ? await db.selectFrom('tenants').select(['id', 'slug']).where('id', 'in', ids).execute() : [];
  const slugOf = new Map<string, string>(rows.map((r) => [r.id, r.slug]));
  const slug = (id: string | null): string | null => (id === null ? null : (slugOf.get(id) ?? null));
  return {
    ...report,
    chains: report.chains.map((c) => ({ ...c, tenant_slug: slug(c.tenant_id) })),
    problems: report.problems.map((p) => ({ ...p, tenant_slug: slug(p.tenant_id) })),
  };
}
