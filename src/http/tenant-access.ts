/**
 * Tenant scoping for routes under /api/v1/tenants/:tenant. A tenant the caller is not a member
 * of answers exactly like one that does not exist, so slugs of other tenants cannot be probed.
 */
import type { FastifyRequest } from 'fastify';
import { forbidden, notFound } from '../core/errors.js';
import { can, effectiveRoles, type Permission, type Role } from '../core/roles.js';
import type { TenantMembershipRow } from '../auth/tokens.js';
import { principalOf } from './auth-hook.js';

export { tenantParamsSchema, tenantSlugSchema } from '../api/fields.js';

export interface TenantAccess {
  tenantId: string;
  slug: string;
  name: string;
  /** Effective roles: a platform admin is an owner of every tenant. */
  roles: Role[];
}

async function tenantRow(request: FastifyRequest, slug: string, operatorId: string): Promise<TenantMembershipRow | null> {
  // Read with the token when the route names this tenant (the auth hook), else now. Used once:
  // a long-lived request that asks again (the event stream, at every poll) reads it afresh, so a
  // removal or a lost role applies at once.
  const early = request.tenantLookup;
  request.tenantLookup = null;
  if (early && early.slug === slug) return early.row && { ...early.row };
  const row = await request.server.deps.db
    .selectFrom('tenants as t')
    .leftJoin('memberships as m', (join) => join.onRef('m.tenant_id', '=', 't.id').on('m.operator_id', '=', operatorId))
    .select(['t.id', 't.slug', 't.name', 'm.roles', 'm.disabled_at'])
    .where('t.slug', '=', slug)
    .executeTakeFirst();
  return row ?? null;
}

export async function requireTenant(request: FastifyRequest, slug: string, permission?: Permission): Promise<TenantAccess> {
  const principal = principalOf(request);
  const row = await tenantRow(request, slug, principal.operatorId);
  // A member disabled here (offboarded) is no member at all.
  if (row?.disabled_at) row.roles = null;
  const outsideSso = principal.ssoTenantId !== null && row?.id !== principal.ssoTenantId;
  if (!row || outsideSso || (!row.roles && !principal.platformAdmin)) throw notFound(`tenant ${slug.slice(0, 40)}`);
  const roles = effectiveRoles(row.roles, principal.platformAdmin);
  if (permission && !can(roles, permission)) {
    throw forbidden(`you need the ${permission} permission in tenant ${row.slug} (your roles there: ${roles.join(', ') || 'none'})`);
  }
  return { tenantId: row.id, slug: row.slug, name: row.name, roles };
}
