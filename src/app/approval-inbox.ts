/**
 * The approvals inbox: pending requests and extensions the viewer may decide on (admins see all),
 * each with its level, quorum and who already acted; oldest first, in pages. Which subjects a
 * viewer sees is decided per subject (its policy's levels, groups resolved), so a page is filled
 * by reading the tenant's pending subjects in order until it is full; before, the tenant's first
 * 500 were read and the rest was in nobody's inbox.
 */
import { sql } from 'kysely';
import { can } from '../core/roles.js';
import { decisionRefusal, resolveApprovals, type Decision, type DecisionRefusalCode } from '../core/approval.js';
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
  /** Null when the viewer may decide now; otherwise why not, in words and as a code. */
  cannotDecide: string | null;
  cannotDecideCode: DecisionRefusalCode | null;
}

/** Where a page of the inbox starts: after this subject, in (created_at, id) order. */
export interface InboxCursor {
  createdAt: string;
  id: string;
}

interface SubjectRow {
  kind: 'request' | 'extension';
  subject_id: string;
  grant_id: string;
  requester: string;
  policy_id: string | null;
  created_at: Date;
  seconds: number | null;
  reason: string | null;
}

/** Subjects read per statement while filling a page. */
const CHUNK = 100;
/**
 * Subjects looked at for one page at most: a viewer who may decide on few of many pending
 * requests gets a short (even empty) page and a cursor rather than one answer that reads them all.
 */
const SCAN_PER_PAGE = 1_000;

export async function approvalInbox(
  deps: Pick<AppDeps, 'db'>,
  tenantId: string,
  viewer: { operatorId: string; roles: readonly string[] },
  page: { limit: number; after?: InboxCursor },
): Promise<{ items: InboxItem[]; next: InboxCursor | null }> {
  const items: InboxItem[] = [];
  let after = page.after;
  for (let scanned = 0; scanned < SCAN_PER_PAGE; ) {
    const chunk = await pendingSubjects(deps, tenantId, after, CHUNK);
    for (const s of chunk) {
      scanned++;
      after = { createdAt: s.created_at.toISOString(), id: s.subject_id };
      const item = await inboxItemOf(deps, tenantId, viewer, s);
      if (item) items.push(item);
      if (items.length === page.limit) return { items, next: after };
    }
    if (chunk.length < CHUNK) return { items, next: null };
  }
  return { items, next: after ?? null };
}

/**
 * Pending requests and extensions of the tenant in (created_at, id) order, after a subject. Times
 * are cut to milliseconds, what a cursor can carry, so no row is skipped or repeated between pages.
 */
async function pendingSubjects(deps: Pick<AppDeps, 'db'>, tenantId: string, after: InboxCursor | undefined, limit: number): Promise<SubjectRow[]> {
  const from = after ? sql`WHERE (s.created_at, s.subject_id) > (${new Date(after.createdAt)}::timestamptz, ${after.id}::uuid)` : sql``;
  const { rows } = await sql<SubjectRow>`
    SELECT * FROM (
      SELECT 'request' AS kind, g.id AS subject_id, g.id AS grant_id, g.operator_id AS requester, g.policy_id,
             date_trunc('milliseconds', g.created_at) AS created_at,
             NULL::int AS seconds, NULL::text AS reason
      FROM grants g WHERE g.tenant_id = ${tenantId} AND g.state = 'requested'
      UNION ALL
      SELECT 'extension', e.id, e.grant_id, e.requester_id, g.policy_id, date_trunc('milliseconds', e.created_at), e.seconds, e.reason
      FROM grant_extensions e JOIN grants g ON g.id = e.grant_id
      WHERE e.tenant_id = ${tenantId} AND e.state = 'pending' AND g.state = 'active'
    ) s ${from}
    ORDER BY s.created_at, s.subject_id
    LIMIT ${limit}`.execute(deps.db);
  return rows;
}

/** The subject as the viewer's inbox shows it, or null when it is not theirs to see or no longer pending. */
async function inboxItemOf(
  deps: Pick<AppDeps, 'db'>,
  tenantId: string,
  viewer: { operatorId: string; roles: readonly string[] },
  s: SubjectRow,
): Promise<InboxItem | null> {
  const all = can(viewer.roles, 'grants.read_all');
  const policy = s.policy_id ? await deps.db.selectFrom('policies').select('rules').where('id', '=', s.policy_id).executeTakeFirst() : undefined;
  const levels = await resolveLevels(deps.db, tenantId, readRules(policy?.rules).approvalLevels);
  if (!all && !levels.some((l) => l.approverIds.includes(viewer.operatorId))) return null;
  const rows = await deps.db
    .selectFrom('approvals')
    .innerJoin('operators', 'operators.id', 'approvals.approver_id')
    .select(['approvals.approver_id', 'operators.email', 'approvals.decision', 'approvals.level', 'approvals.created_at'])
    .where('subject_type', '=', s.kind === 'request' ? 'grant' : 'extension')
    .where('subject_id', '=', s.subject_id)
    .orderBy('approvals.created_at')
    .execute();
  const decisions: Decision[] = rows.map((r) => ({ approverId: r.approver_id, level: r.level, decision: r.decision }));
  const state = resolveApprovals(levels, s.requester, decisions);
  if (state.status !== 'pending') return null;
  const refusal = decisionRefusal(levels, s.requester, decisions, viewer.operatorId);
  return {
    kind: s.kind,
    extensionId: s.kind === 'extension' ? s.subject_id : null,
    extensionSeconds: s.seconds,
    extensionReason: s.reason,
    grant: await getGrant(deps, tenantId, { operatorId: viewer.operatorId, roles: [...viewer.roles, 'auditor'] }, s.grant_id),
    level: state.level,
    levels: levels.length,
    quorum: state.quorum,
    approvals: state.approvals,
    acted: rows.map((r) => ({ approverId: r.approver_id, approverEmail: r.email, decision: r.decision, level: r.level, at: r.created_at })),
    cannotDecide: refusal?.message ?? null,
    cannotDecideCode: refusal?.code ?? null,
  };
}
