/**
 * Operators (people who sign in), their tenant memberships and tenants themselves.
 * Every change is audited inside the same transaction; hashes never reach the audit log.
 * Methods take an optional executor so callers can compose them inside their own transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditInput, AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { badRequest, conflict, notFound } from '../core/errors.js';
import { isRole, type Role } from '../core/roles.js';
import type { Database, OperatorRow } from '../store/schema.js';
import { hashPassword } from './password-hash.js';

export type Actor = AuditInput['actor'];
type Db = Kysely<Database>;

export interface OperatorView {
  id: string;
  email: string;
  displayName: string;
  platformAdmin: boolean;
  disabled: boolean;
  createdAt: Date;
}
/** Only for sign-in: the one place a password hash leaves this module. */
export interface OperatorWithHash extends OperatorView {
  passwordHash: string | null;
  passwordChangeRequired: boolean;
}
export interface TenantView { id: string; slug: string; name: string }
export interface MemberView { operator: OperatorView; roles: Role[]; disabledHere: boolean }
export interface MembershipView { tenant: TenantView; roles: Role[] }

export interface OperatorsDeps {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  newId?: () => string;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Runs fn in the caller's transaction if there is one, else in a new one. */
export function inTransaction<T>(db: Db, fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db as Transaction<Database>) : db.transaction().execute(fn);
}

export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

/** Validates and de-duplicates roles given by a person; at least one is needed. */
export function parseRoles(input: readonly string[]): Role[] {
  const unknown = input.filter((r) => !isRole(r));
  if (unknown.length > 0) throw badRequest(`unknown role: ${unknown.join(', ')}`);
  const roles = [...new Set(input)] as Role[];
  if (roles.length === 0) throw badRequest('a member needs at least one role');
  return roles;
}

const operatorColumns = ['id', 'email', 'display_name', 'platform_admin', 'disabled', 'created_at'] as const;
type OperatorRowPart = Pick<OperatorRow, (typeof operatorColumns)[number]>;
const toView = (r: OperatorRowPart): OperatorView => ({
  id: r.id,
  email: r.email,
  displayName: r.display_name,
  platformAdmin: r.platform_admin,
  disabled: r.disabled,
  createdAt: r.created_at,
});
// Roles in the table are only ever written through parseRoles; filter anyway in case of manual edits.
const rolesOf = (stored: readonly string[]): Role[] => stored.filter(isRole);

/**
 * Refuses to leave the tenant without an enabled owner; call with the tenant locked. Owners
 * disabled here or everywhere do not count: they cannot act for the tenant.
 */
export async function assertOwnerRemains(tx: Transaction<Database>, tenantId: string, operatorId: string): Promise<void> {
  const owners = await tx
    .selectFrom('memberships as m')
    .innerJoin('operators as o', 'o.id', 'm.operator_id')
    .select('m.operator_id')
    .where('m.tenant_id', '=', tenantId)
    .where('m.disabled_at', 'is', null)
    .where('o.disabled', '=', false)
    .where((eb) => eb(eb.val('owner'), '=', eb.fn.any('m.roles')))
    .execute();
  if (owners.every((o) => o.operator_id === operatorId)) {
    throw conflict('this is the last owner of the tenant who is not disabled; make someone else owner (or enable a disabled owner) first');
  }
}

/**
 * Given the member's roles and standing as read under the tenant lock, refuses a change the
 * caller may not make (throws). A platform administrator counts as an owner of every tenant.
 */
export type MembershipGuard = (previousRoles: Role[], member: { platformAdmin: boolean }) => void;

/** The membership with whether its operator is a platform administrator (call with the tenant locked). */
function membershipOf(tx: Transaction<Database>, tenantId: string, operatorId: string) {
  return tx
    .selectFrom('memberships as m')
    .innerJoin('operators as o', 'o.id', 'm.operator_id')
    .select(['m.roles', 'o.platform_admin'])
    .where('m.tenant_id', '=', tenantId)
    .where('m.operator_id', '=', operatorId)
    .executeTakeFirst();
}

export function createOperators(deps: OperatorsDeps) {
  const newId = deps.newId ?? randomUUID;
  const { audit, clock } = deps;

  async function create(
    input: {
      email: string;
      displayName: string;
      password?: string | null;
      /** True for a password the operator did not choose (generated): changed at first sign-in. */
      passwordChangeRequired?: boolean;
      platformAdmin?: boolean;
      auditTenantId?: string | null;
    },
    actor: Actor,
    db: Db = deps.db,
  ): Promise<OperatorView> {
    const email = normalizeEmail(input.email);
    const displayName = input.displayName.trim();
    if (!displayName) throw badRequest('display name must not be empty');
    // Hashed before our own transaction opens: ~80 ms should not hold a connection (PGlite has one).
    const passwordHash = input.password ? await hashPassword(input.password) : null;
    const row = {
      id: newId(),
      email,
      display_name: displayName,
      password_hash: passwordHash,
      password_change_required: input.passwordChangeRequired ?? false,
      platform_admin: input.platformAdmin ?? false,
      disabled: false,
      created_at: clock.now(),
    };
    return inTransaction(db, async (tx) => {
      try {
        await tx.insertInto('operators').values(row).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(`an operator with email ${email} already exists`);
        throw err;
      }
      const view = toView(row);
      await audit.append(tx, {
        tenantId: input.auditTenantId ?? null,
        actor,
        action: 'operator.created',
        subject: { type: 'operator', id: view.id },
        after: { email, displayName, platformAdmin: row.platform_admin, passwordSet: passwordHash !== null },
      });
      return view;
    });
  }

  /**
   * Membership changes of one tenant are serialised on its row, so two admins demoting the
   * last two owners at once cannot both succeed (and row locks cannot deadlock).
   */
  async function lockTenant(tx: Transaction<Database>, tenantId: string): Promise<void> {
    const t = await tx.selectFrom('tenants').select('id').where('id', '=', tenantId).forUpdate().executeTakeFirst();
    if (!t) throw notFound('tenant');
  }

  /**
   * Adds the operator to the tenant, or replaces their roles there. `guard` sees the current
   * roles (read under the tenant lock) and may throw to refuse, e.g. for a missing permission.
   */
  async function setMembership(
    tenantId: string,
    operatorId: string,
    roleInput: readonly string[],
    actor: Actor,
    db: Db = deps.db,
    guard?: MembershipGuard,
  ): Promise<{ created: boolean; roles: Role[]; previousRoles: Role[] }> {
    const roles = parseRoles(roleInput);
    return inTransaction(db, async (tx) => {
      await lockTenant(tx, tenantId);
      const existing = await membershipOf(tx, tenantId, operatorId);
      const previousRoles = existing ? rolesOf(existing.roles) : [];
      guard?.(previousRoles, { platformAdmin: existing?.platform_admin ?? false });
      if (existing && previousRoles.includes('owner') && !roles.includes('owner')) {
        await assertOwnerRemains(tx, tenantId, operatorId);
      }
      if (existing) {
        await tx.updateTable('memberships').set({ roles }).where('tenant_id', '=', tenantId).where('operator_id', '=', operatorId).execute();
      } else {
        await tx.insertInto('memberships').values({ tenant_id: tenantId, operator_id: operatorId, roles, created_at: clock.now() }).execute();
      }
      await audit.append(tx, {
        tenantId,
        actor,
        action: existing ? 'membership.updated' : 'membership.added',
        subject: { type: 'operator', id: operatorId },
        before: existing ? { roles: previousRoles } : null,
        after: { roles },
      });
      return { created: !existing, roles, previousRoles };
    });
  }

  /** Returns the roles the member had; `guard` as in setMembership. */
  async function removeMembership(
    tenantId: string,
    operatorId: string,
    actor: Actor,
    db: Db = deps.db,
    guard?: MembershipGuard,
  ): Promise<Role[]> {
    return inTransaction(db, async (tx) => {
      await lockTenant(tx, tenantId);
      const existing = await membershipOf(tx, tenantId, operatorId);
      if (!existing) throw notFound('member');
      guard?.(rolesOf(existing.roles), { platformAdmin: existing.platform_admin });
      if (existing.roles.includes('owner')) await assertOwnerRemains(tx, tenantId, operatorId);
      await tx.deleteFrom('memberships').where('tenant_id', '=', tenantId).where('operator_id', '=', operatorId).execute();
      // Nobody stays an approver or requester of a tenant through a group after leaving it.
      const groups = await tx
        .deleteFrom('operator_group_members')
        .where('operator_id', '=', operatorId)
        .where('group_id', 'in', (eb) => eb.selectFrom('operator_groups').select('id').where('tenant_id', '=', tenantId))
        .returning('group_id')
        .execute();
      await audit.append(tx, {
        tenantId,
        actor,
        action: 'membership.removed',
        subject: { type: 'operator', id: operatorId },
        before: { roles: rolesOf(existing.roles), groupIds: groups.map((g) => g.group_id) },
      });
      return rolesOf(existing.roles);
    });
  }

  /** Members ordered by email; `after` is the (email, id) of the last row of the previous page. */
  async function listMembers(
    tenantId: string,
    page: { limit: number; after?: readonly [string, string] | undefined },
    db: Db = deps.db,
  ): Promise<{ items: MemberView[]; next: [string, string] | null }> {
    let q = db
      .selectFrom('memberships as m')
      .innerJoin('operators as o', 'o.id', 'm.operator_id')
      .select(['o.id', 'o.email', 'o.display_name', 'o.platform_admin', 'o.disabled', 'o.created_at', 'm.roles', 'm.disabled_at'])
      .where('m.tenant_id', '=', tenantId);
    if (page.after) {
      const [email, id] = page.after;
      q = q.where((eb) => eb.or([eb('o.email', '>', email), eb.and([eb('o.email', '=', email), eb('o.id', '>', id)])]));
    }
    const rows = await q.orderBy('o.email').orderBy('o.id').limit(page.limit + 1).execute();
    const items = rows.slice(0, page.limit).map((r) => ({ operator: toView(r), roles: rolesOf(r.roles), disabledHere: r.disabled_at !== null }));
    const last = items.at(-1);
    const next: [string, string] | null = rows.length > page.limit && last ? [last.operator.email, last.operator.id] : null;
    return { items, next };
  }

  async function findByEmail(email: string, db: Db = deps.db): Promise<OperatorWithHash | undefined> {
    const r = await db
      .selectFrom('operators')
      .select([...operatorColumns, 'password_hash', 'password_change_required'])
      .where('email', '=', normalizeEmail(email))
      .executeTakeFirst();
    return r && { ...toView(r), passwordHash: r.password_hash, passwordChangeRequired: r.password_change_required };
  }

  async function membershipsOf(operatorId: string, db: Db = deps.db): Promise<MembershipView[]> {
    const rows = await db
      .selectFrom('memberships as m')
      .innerJoin('tenants as t', 't.id', 'm.tenant_id')
      .select(['t.id', 't.slug', 't.name', 'm.roles'])
      .where('m.operator_id', '=', operatorId)
      .where('m.disabled_at', 'is', null)
      .orderBy('t.slug')
      .execute();
    return rows.map((r) => ({ tenant: { id: r.id, slug: r.slug, name: r.name }, roles: rolesOf(r.roles) }));
  }

  /** Tenants live here because a tenant is born with its first owner (bootstrap, POST /tenants). */
  async function createTenant(input: { slug: string; name: string }, actor: Actor, db: Db = deps.db): Promise<TenantView> {
    const tenant = { id: newId(), slug: input.slug, name: input.name.trim() };
    return inTransaction(db, async (tx) => {
      try {
        await tx.insertInto('tenants').values({ ...tenant, created_at: clock.now() }).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(`tenant ${tenant.slug} already exists`);
        throw err;
      }
      await audit.append(tx, {
        tenantId: tenant.id,
        actor,
        action: 'tenant.created',
        subject: { type: 'tenant', id: tenant.id },
        after: { slug: tenant.slug, name: tenant.name },
      });
      return tenant;
    });
  }

  return { create, setMembership, removeMembership, listMembers, findByEmail, membershipsOf, createTenant };
}

export type Operators = ReturnType<typeof createOperators>;
