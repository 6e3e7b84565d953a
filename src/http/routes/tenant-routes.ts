/** Tenants and their members. Tenants the caller does not belong to look like missing ones. */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import type { Kysely } from 'kysely';
import { forbidden } from '../../core/errors.js';
import { can, effectiveRoles } from '../../core/roles.js';
import type { Database } from '../../store/schema.js';
import { inTransaction, normalizeEmail, type MembershipGuard, type Operators } from '../../auth/operators.js';
import type { Invitations } from '../../auth/invitations.js';
import type { MemberRemoval } from '../../auth/member-removal.js';
import { linkBase, toIssued } from './identity-routes.js';
import { actorOf, principalOf } from '../auth-hook.js';
import { decodeCursor, encodeCursor, oneStringKey, stringAndIdKeys, toPage } from '../pagination.js';
import { requireTenant, type TenantAccess } from '../tenant-access.js';
import type { ZodApp } from '../server.js';

/**
 * Owners, and platform administrators (owners of every tenant), can only be touched by someone
 * with owners.manage. Given as a guard to the membership change, it sees the member as read
 * under the tenant lock, so it cannot race with another change.
 */
function guardOwner(access: TenantAccess, what: string): MembershipGuard {
  return (previousRoles, member) => {
    if (can(access.roles, 'owners.manage')) return;
    if (previousRoles.includes('owner')) throw forbidden(`you need the owners.manage permission in tenant ${access.slug} to ${what} an owner`);
    if (member.platformAdmin) throw forbidden(`you need the owners.manage permission in tenant ${access.slug} to ${what} a platform administrator`);
  };
}

/** An owner's invitation is an owner's to withdraw, or to replace by inviting the address again. */
const mayWithdraw = (access: { roles: readonly string[]; slug: string }) => (roles: readonly string[]) => {
  if (roles.includes('owner') && !can(access.roles, 'owners.manage')) {
    throw forbidden(`you need the owners.manage permission in tenant ${access.slug} to withdraw or replace an invitation to be an owner`);
  }
};

export function tenantRoutes(deps: { db: Kysely<Database>; operators: Operators; invitations: Invitations; memberRemoval: MemberRemoval; publicUrl?: string | undefined }) {
  const { db, operators, invitations, memberRemoval } = deps;
  const originOf = linkBase(deps.publicUrl);
  return (app: ZodApp) => {
    app.route({
      ...routeOf(endpoints.listTenants),
      handler: async (request) => {
        const principal = principalOf(request);
        const { limit, cursor } = request.query;
        const after = decodeCursor(cursor, oneStringKey);
        let q = db
          .selectFrom('tenants as t')
          .leftJoin('memberships as m', (j) => j.onRef('m.tenant_id', '=', 't.id').on('m.operator_id', '=', principal.operatorId).on('m.disabled_at', 'is', null))
          .select(['t.id', 't.slug', 't.name', 'm.roles']);
        if (!principal.platformAdmin) q = q.where('m.operator_id', 'is not', null);
        if (principal.ssoTenantId) q = q.where('t.id', '=', principal.ssoTenantId);
        if (after) q = q.where('t.slug', '>', after[0]);
        const rows = await q.orderBy('t.slug').limit(limit + 1).execute();
        return toPage(
          rows,
          limit,
          (r) => ({ id: r.id, slug: r.slug, name: r.name, roles: effectiveRoles(r.roles, principal.platformAdmin) }),
          (r) => [r.slug],
        );
      },
    });

    app.route({
      ...routeOf(endpoints.createTenant),
      handler: async (request, reply) => {
        const principal = principalOf(request);
        if (!principal.platformAdmin) throw forbidden('only platform administrators can create tenants');
        const actor = actorOf(principal);
        const tenant = await inTransaction(db, async (tx) => {
          const t = await operators.createTenant(request.body, actor, tx);
          await operators.setMembership(t.id, principal.operatorId, ['owner'], actor, tx);
          return t;
        });
        return reply.status(201).send({ ...tenant, roles: ['owner' as const] });
      },
    });

    app.route({
      ...routeOf(endpoints.listMembers),
      handler: async (request) => {
        const access = await requireTenant(request, request.params.tenant);
        if (!can(access.roles, 'members.manage') && !can(access.roles, 'audit.read')) {
          throw forbidden(`you need the members.manage or audit.read permission in tenant ${access.slug}`);
        }
        const { limit, cursor } = request.query;
        const page = await operators.listMembers(access.tenantId, { limit, after: decodeCursor(cursor, stringAndIdKeys) });
        return {
          items: page.items.map(({ operator: o, roles, disabledHere }) => ({
            operator: { id: o.id, email: o.email, displayName: o.displayName, disabled: o.disabled },
            roles,
            disabledHere,
          })),
          nextCursor: page.next ? encodeCursor(page.next) : null,
        };
      },
    });

    app.route({
      ...routeOf(endpoints.addMember),
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const access = await requireTenant(request, request.params.tenant, 'members.manage');
        const { roles } = request.body;
        const email = normalizeEmail(request.body.email);
        if (roles.includes('owner') && !can(access.roles, 'owners.manage')) {
          throw forbidden(`you need the owners.manage permission in tenant ${access.slug} to make someone an owner`);
        }
        const actor = actorOf(principal);
        // Only people already in this tenant (the admin sees them on the members page) are found by email.
        const member = await db
          .selectFrom('memberships as m')
          .innerJoin('operators as o', 'o.id', 'm.operator_id')
          .select(['o.id', 'o.email', 'o.display_name', 'm.disabled_at'])
          .where('m.tenant_id', '=', access.tenantId)
          .where('o.email', '=', email)
          .executeTakeFirst();
        if (member) {
          const m = await operators.setMembership(access.tenantId, member.id, roles, actor, db, guardOwner(access, 'change the roles of'));
          // New roles do not undo an offboarding: the answer says so rather than read as "re-added".
          return reply
            .status(200)
            .send({ operator: { id: member.id, email: member.email, displayName: member.display_name }, roles: m.roles, disabledHere: member.disabled_at !== null });
        }
        // Everyone else gets an invitation: nobody is linked to an existing account without consent.
        // A new invitation replaces an open one to the same address: replacing is withdrawing.
        const issued = await invitations.inviteMember({ tenantId: access.tenantId, email, roles, displayName: request.body.displayName, origin: originOf(request) }, actor, mayWithdraw(access));
        return reply.status(201).send(toIssued(issued));
      },
    });

    app.route({
      ...routeOf(endpoints.listInvitations),
      handler: async (request) => {
        const access = await requireTenant(request, request.params.tenant, 'members.manage');
        const items = await invitations.listPending(access.tenantId);
        return { items: items.map((i) => ({ ...i, expiresAt: i.expiresAt.toISOString(), createdAt: i.createdAt.toISOString() })) };
      },
    });

    app.route({
      ...routeOf(endpoints.withdrawInvitation),
      handler: async (request, reply) => {
        const access = await requireTenant(request, request.params.tenant, 'members.manage');
        await invitations.withdraw(access.tenantId, request.params.invitationId, actorOf(principalOf(request)), mayWithdraw(access));
        return reply.status(204).send(null);
      },
    });

    app.route({
      ...routeOf(endpoints.removeMember),
      handler: async (request, reply) => {
        const principal = principalOf(request);
        const access = await requireTenant(request, request.params.tenant, 'members.manage');
        const { operatorId } = request.params;
        const actor = actorOf(principal);
        // Leaving the tenant ends the person's access there in the same commit.
        await inTransaction(db, async (tx) => {
          await operators.removeMembership(access.tenantId, operatorId, actor, tx, guardOwner(access, 'remove'));
          await memberRemoval.endAccessIn(tx, access.tenantId, operatorId, actor, 'removed from the tenant');
        });
        await memberRemoval.afterCommit(access.tenantId, operatorId, actor);
        return reply.status(204).send(null);
      },
    });
  };
}
