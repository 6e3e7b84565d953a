/**
 * More access goes only to someone who may still ask for it: a person who may request in the
 * tenant now and whom the grant's policy still lists (by role, by name or by group). Checked when
 * an extension is asked for, again when an approver decides on a request or an extension, and
 * when an approved grant's scheduled start comes: a requester demoted or dropped from the policy
 * while their ask waited gets nothing from it.
 */
import type { Kysely, Transaction } from 'kysely';
import { can, effectiveRoles } from '../core/roles.js';
import type { Database, GrantRow } from '../store/schema.js';
import { groupsOf } from './operator-groups.js';
import { policyMismatch, type PolicyTerms } from './policies.js';

type Db = Kysely<Database> | Transaction<Database>;

/** What `rolesNow` reads: the person and their membership of the tenant (null: not a member). */
export interface StandingRow {
  disabled: boolean;
  platform_admin: boolean;
  roles: string[] | null;
  disabled_at: Date | null;
}

/** Pure: the roles a person holds in the tenant now (none when disabled or not a member; platform administrators are owners). */
export function rolesOf(row: StandingRow | undefined): string[] {
  if (!row || row.disabled || row.disabled_at) return [];
  return effectiveRoles(row.roles, row.platform_admin);
}

/** The person's roles in the tenant now (`rolesOf`), read on their own. */
export async function rolesNow(db: Db, tenantId: string, operatorId: string): Promise<string[]> {
  const row = await db
    .selectFrom('operators as o')
    .leftJoin('memberships as m', (j) => j.onRef('m.operator_id', '=', 'o.id').on('m.tenant_id', '=', tenantId))
    .select(['o.disabled', 'o.platform_admin', 'm.roles', 'm.disabled_at'])
    .where('o.id', '=', operatorId)
    .executeTakeFirst();
  return rolesOf(row);
}

export type StandingProblem =
  /** The person's roles here no longer allow requesting at all. */
  | { code: 'cannot_request'; roles: readonly string[] }
  /** The grant's policy no longer lists them (by role, by name or by group); `why` says it to them. */
  | { code: 'not_listed'; why: string };

/** Why this grant's owner, holding `roles` now, may not be given more access under its policy, or null. */
export async function standingProblem(
  db: Db,
  tenantId: string,
  grant: Pick<GrantRow, 'operator_id' | 'target_id' | 'entitlements'>,
  roles: readonly string[],
  policy: PolicyTerms | undefined,
): Promise<StandingProblem | null> {
  if (!can(roles, 'requests.create')) return { code: 'cannot_request', roles };
  if (!policy) return null;
  const ask = { targetId: grant.target_id, entitlements: grant.entitlements, roles, operatorId: grant.operator_id };
  // Groups are read only when role and name do not already list them.
  if (policyMismatch(policy, ask) === null) return null;
  const why = policyMismatch(policy, { ...ask, groupIds: await groupsOf(db, tenantId, grant.operator_id) });
  return why ? { code: 'not_listed', why } : null;
}

/** The problem as a grant's end reason says it, read by the requester and by everyone else alike. */
export function standingReason(problem: StandingProblem): string {
  return problem.code === 'cannot_request'
    ? `its requester may no longer request access in this tenant (roles held there: ${problem.roles.join(', ') || 'none'})`
    : 'its requester is no longer among those the policy lets ask for this';
}

/** The problem as an approver reads it (the requester is someone else). */
export function requesterCannotAsk(problem: StandingProblem): string {
  return problem.code === 'cannot_request'
    ? `the requester can no longer request access in this tenant (their roles here: ${problem.roles.join(', ') || 'none'})`
    : 'the requester is no longer among those the policy lets ask for this';
}

/** `standingProblem` for a grant on its own: the owner's roles now and the grant's policy, read here. */
export async function grantStandingProblem(
  db: Db,
  grant: Pick<GrantRow, 'tenant_id' | 'operator_id' | 'target_id' | 'entitlements' | 'policy_id'>,
): Promise<StandingProblem | null> {
  const policy = grant.policy_id ? await db.selectFrom('policies').selectAll().where('id', '=', grant.policy_id).executeTakeFirst() : undefined;
  return standingProblem(db, grant.tenant_id, grant, await rolesNow(db, grant.tenant_id, grant.operator_id), policy);
}
