/** Operator groups per tenant: who may request under a policy, and who approves at a level. */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { AppError, badRequest, notFound } from '../core/errors.js';
import type { Database } from '../store/schema.js';
import type { Actor, AppDeps } from './deps.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface GroupView {
  id: string;
  name: string;
  memberIds: string[];
  createdAt: Date;
}

export async function groupMembers(db: Db, tenantId: string, groupIds: readonly string[]): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>();
  if (groupIds.length === 0) return map;
  const groups = await db.selectFrom('operator_groups').select('id').where('tenant_id', '=', tenantId).where('id', 'in', [...groupIds]).execute();
  for (const g of groups) map.set(g.id, []);
  if (groups.length === 0) return map;
  const rows = await db
    .selectFrom('operator_group_members')
    .select(['group_id', 'operator_id'])
    .where('group_id', 'in', groups.map((g) => g.id))
    .execute();
  for (const r of rows) map.get(r.group_id)!.push(r.operator_id);
  return map;
}

export async function groupsOf(db: Db, tenantId: string, operatorId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('operator_group_members')
    .innerJoin('operator_groups', 'operator_groups.id', 'operator_group_members.group_id')
    .select('operator_groups.id')
    .where('operator_groups.tenant_id', '=', tenantId)
    .where('operator_group_members.operator_id', '=', operatorId)
    .execute();
  return rows.map((r) => r.id);
}

export async function listGroups(deps: Pick<AppDeps, 'db'>, tenantId: string): Promise<GroupView[]> {
  const groups = await deps.db.selectFrom('operator_groups').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
  const members = await groupMembers(deps.db, tenantId, groups.map((g) => g.id));
  return groups.map((g) => ({ id: g.id, name: g.name, memberIds: members.get(g.id) ?? [], createdAt: g.created_at }));
}

/**
 * Refuses anyone not a member of the tenant, and holds their memberships (FOR SHARE) until the
 * caller's transaction ends: a removal running meanwhile waits for it and then takes them out of
 * the groups too, or committed first and the check fails. Never an ex-member left in a group.
 */
async function lockMembers(tx: Transaction<Database>, tenantId: string, operatorIds: string[]): Promise<string[]> {
  if (operatorIds.length === 0) return [];
  const known = await tx
    .selectFrom('memberships')
    .select('operator_id')
    .where('tenant_id', '=', tenantId)
    .where('operator_id', 'in', operatorIds)
    .forShare()
    .execute();
  return operatorIds.filter((m) => !known.some((k) => k.operator_id === m));
}

export async function createGroup(deps: AppDeps, actor: Actor, tenantId: string, input: { name: string; memberIds: string[] }): Promise<GroupView> {
  const members = [...new Set(input.memberIds)];
  const dup = await deps.db.selectFrom('operator_groups').select('id').where('tenant_id', '=', tenantId).where('name', '=', input.name).executeTakeFirst();
  if (dup) throw new AppError('conflict', `a group named "${input.name}" already exists`);
  const id = randomUUID();
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    const unknown = await lockMembers(tx, tenantId, members);
    if (unknown.length) throw badRequest(`not members of this tenant: ${unknown.join(', ')}`);
    await tx.insertInto('operator_groups').values({ id, tenant_id: tenantId, name: input.name, created_at: now }).execute();
    if (members.length) await tx.insertInto('operator_group_members').values(members.map((m) => ({ group_id: id, operator_id: m }))).execute();
    await deps.audit.append(tx, { tenantId, actor, action: 'group.created', subject: { type: 'group', id }, after: { name: input.name, memberIds: members } });
  });
  return { id, name: input.name, memberIds: members, createdAt: now };
}

export async function setGroupMembership(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  groupId: string,
  operatorId: string,
  member: boolean,
): Promise<void> {
  const group = await deps.db.selectFrom('operator_groups').select('id').where('tenant_id', '=', tenantId).where('id', '=', groupId).executeTakeFirst();
  if (!group) throw notFound(`group ${groupId}`);
  await deps.db.transaction().execute(async (tx) => {
    if ((await lockMembers(tx, tenantId, [operatorId])).length > 0) throw notFound(`operator ${operatorId}`);
    if (member) {
      await tx.insertInto('operator_group_members').values({ group_id: groupId, operator_id: operatorId }).onConflict((oc) => oc.doNothing()).execute();
    } else {
      await tx.deleteFrom('operator_group_members').where('group_id', '=', groupId).where('operator_id', '=', operatorId).execute();
    }
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: member ? 'group.member_added' : 'group.member_removed',
      subject: { type: 'group', id: groupId },
      after: { operatorId },
    });
  });
}
