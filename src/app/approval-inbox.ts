/**
 * The approvals inbox: pending requests and extensions the viewer may decide on (admins see all),
 * each with its level, quorum and who already acted.
 */
import { can } from '../core/roles.js';
import { decisionRefusal, resolveApprovals, type Decision } from '../core/approval.js';
import { readRules } from '../core/policy-rules.js';
import type { AppDeps } from './deps.js';
import { resolveLevels } from './approvers.js';
import { getGrant, type GrantView } from './grants.js';

export interface InboxItem {
  kind: 'request' | 'extension';
  extensionId: string | null;
  extensionSeconds: number | null;
  extensionReason: string | null;
  grant: GrantView;
  level: number;
  levels: number;
  quorum: number;
  approvals: number;
  acted: Array<{ approverId: string; approverEmail: string; decision: string; level: number; at: Date }>;
  /** Null when the viewer may decide now; otherwise why not. */
  cannotDecide: string | null;
}

export async function approvalInbox(
  deps: Pick<AppDeps, 'db'>,
  tenantId: string,
  viewer: { operatorId: string; roles: readonly string[] },
): Promise<InboxItem[]> {
  const requests = await deps.db
    .selectFrom('grants')
    .select(['id', 'operator_id', 'policy_id'])
    .where('tenant_id', '=', tenantId)
    .where('state', '=', 'requested')
    .orderBy('created_at')
    .limit(500)
    .execute();
  const extensions = await deps.db
    .selectFrom('grant_extensions')
    .innerJoin('grants', 'grants.id', 'grant_extensions.grant_id')
    .select(['grant_extensions.id', 'grant_extensions.grant_id', 'grant_extensions.requester_id', 'grant_extensions.seconds', 'grant_extensions.reason', 'grants.policy_id'])
    .where('grant_extensions.tenant_id', '=', tenantId)
    .where('grant_extensions.state', '=', 'pending')
    .limit(500)
    .execute();
  const subjects = [
    ...requests.map((r) => ({ kind: 'request' as const, subjectId: r.id, grantId: r.id, requester: r.operator_id, policyId: r.policy_id, ext: null })),
    ...extensions.map((e) => ({ kind: 'extension' as const, subjectId: e.id, grantId: e.grant_id, requester: e.requester_id, policyId: e.policy_id, ext: e })),
  ];
  const all = can(viewer.roles, 'grants.read_all');
  const items: InboxItem[] = [];
  for (const s of subjects) {
    const policy = s.policyId ? await deps.db.selectFrom('policies').select('rules').where('id', '=', s.policyId).executeTakeFirst() : undefined;
    const levels = await resolveLevels(deps.db, tenantId, readRules(policy?.rules).approvalLevels);
    if (!all && !levels.some((l) => l.approverIds.includes(viewer.operatorId))) continue;
    const rows = await deps.db
      .selectFrom('approvals')
      .innerJoin('operators', 'operators.id', 'approvals.approver_id')
      .select(['approvals.approver_id', 'operators.email', 'approvals.decision', 'approvals.level', 'approvals.created_at'])
      .where('subject_type', '=', s.kind === 'request' ? 'grant' : 'extension')
      .where('subject_id', '=', s.subjectId)
      .orderBy('approvals.created_at')
      .execute();
    const decisions: Decision[] = rows.map((r) => ({ approverId: r.approver_id, level: r.level, decision: r.decision }));
    const state = resolveApprovals(levels, s.requester, decisions);
    if (state.status !== 'pending') continue;
    items.push({
      kind: s.kind,
      extensionId: s.ext?.id ?? null,
      extensionSeconds: s.ext?.seconds ?? null,
      extensionReason: s.ext?.reason ?? null,
      grant: await getGrant(deps, tenantId, { operatorId: viewer.operatorId, roles: [...viewer.roles, 'auditor'] }, s.grantId),
      level: state.level,
      levels: levels.length,
      quorum: state.quorum,
      approvals: state.approvals,
      acted: rows.map((r) => ({ approverId: r.approver_id, approverEmail: r.email, decision: r.decision, level: r.level, at: r.created_at })),
      cannotDecide: decisionRefusal(levels, s.requester, decisions, viewer.operatorId)?.message ?? null,
    });
  }
  return items;
}
