/** Who approves at a level (named people plus current group members who may approve), and grant summaries for messages. */
import type { Kysely, Transaction } from 'kysely';
import type { ApprovalLevel } from '../core/policy-rules.js';
import type { ResolvedLevel } from '../core/approval.js';
import type { Database, GrantRow } from '../store/schema.js';
import { can } from '../core/roles.js';
import { groupMembers } from './operator-groups.js';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Of these operators, those who may decide in the tenant right now: not disabled (anywhere or
 * here) and holding the approve permission there (platform administrators count as owners).
 * Being named in a policy or a group is not enough: a demoted approver decides nothing.
 */
export async function ableToApprove(db: Db, tenantId: string, operatorIds: readonly string[]): Promise<Set<string>> {
  if (operatorIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('operators as o')
    .leftJoin('memberships as m', (j) => j.onRef('m.operator_id', '=', 'o.id').on('m.tenant_id', '=', tenantId))
    .select(['o.id', 'o.disabled', 'o.platform_admin', 'm.roles', 'm.disabled_at'])
    .where('o.id', 'in', [...operatorIds])
    .execute();
  return new Set(
    rows
      .filter((r) => !r.disabled && !r.disabled_at && (r.platform_admin || (r.roles !== null && can(r.roles, 'approvals.decide'))))
      .map((r) => r.id),
  );
}

/** Who approves at a level now: named people plus current group members, if able to approve. */
export async function approversAt(db: Db, tenantId: string, level: ApprovalLevel): Promise<string[]> {
  const members = await groupMembers(db, tenantId, level.groupIds);
  const named = [...new Set([...level.approverIds, ...[...members.values()].flat()])];
  const able = await ableToApprove(db, tenantId, named);
  return named.filter((id) => able.has(id));
}

export async function resolveLevels(db: Db, tenantId: string, levels: readonly ApprovalLevel[]): Promise<ResolvedLevel[]> {
  const out: ResolvedLevel[] = [];
  for (const l of levels) out.push({ approverIds: await approversAt(db, tenantId, l), quorum: l.quorum });
  return out;
}

export async function tenantAdmins(db: Db, tenantId: string): Promise<string[]> {
  const rows = await db.selectFrom('memberships').select(['operator_id', 'roles']).where('tenant_id', '=', tenantId).execute();
  return rows.filter((r) => r.roles.includes('owner') || r.roles.includes('admin')).map((r) => r.operator_id);
}

export interface GrantSummary {
  id: string;
  requesterEmail: string;
  targetName: string;
  entitlements: string[];
  durationSeconds: number;
  expiresAt: string | null;
  reason: string;
}

/** What a message says about a grant: never a credential. */
export function summaryOf(g: GrantRow, about: { requesterEmail: string; targetName: string; reason: string }): GrantSummary {
  return {
    id: g.id,
    requesterEmail: about.requesterEmail,
    targetName: about.targetName,
    entitlements: g.entitlements,
    durationSeconds: g.duration_seconds,
    expiresAt: g.expires_at?.toISOString() ?? null,
    reason: about.reason,
  };
}

/** The same, reading who asked, for what target and why. */
export async function grantSummary(db: Db, g: GrantRow): Promise<GrantSummary> {
  const row = await db
    .selectFrom('grants')
    .innerJoin('operators', 'operators.id', 'grants.operator_id')
    .innerJoin('targets', 'targets.id', 'grants.target_id')
    .innerJoin('access_requests', 'access_requests.id', 'grants.request_id')
    .select(['operators.email', 'targets.name', 'access_requests.reason'])
    .where('grants.id', '=', g.id)
    .executeTakeFirstOrThrow();
  return summaryOf(g, { requesterEmail: row.email, targetName: row.name, reason: row.reason });
}
