/**
 * Approval resolution, pure: ordered levels, each with its approvers and a quorum. Level n+1 is
 * asked only once level n has its quorum; any deny ends the request; nobody approves their own
 * request or decides twice. An approval counts only while its approver may still approve at that
 * level (the levels are resolved now): a vote of someone since demoted, disabled or removed from
 * the level's group no longer makes up the quorum.
 */
export interface ResolvedLevel {
  approverIds: readonly string[];
  quorum: number;
}

export interface Decision {
  approverId: string;
  level: number;
  decision: 'approve' | 'deny';
}

export type ApprovalStatus =
  | { status: 'approved' }
  | { status: 'denied'; by: string; level: number }
  | { status: 'pending'; level: number; approvals: number; quorum: number; waitingOn: string[] };

/** Levels are numbered from 1. */
export function resolveApprovals(levels: readonly ResolvedLevel[], requesterId: string, decisions: readonly Decision[]): ApprovalStatus {
  const deny = decisions.find((d) => d.decision === 'deny');
  if (deny) return { status: 'denied', by: deny.approverId, level: deny.level };
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    const n = i + 1;
    const able = new Set(level.approverIds);
    const approvals = decisions.filter((d) => d.level === n && d.decision === 'approve' && able.has(d.approverId) && d.approverId !== requesterId).length;
    if (approvals < level.quorum) {
      const acted = new Set(decisions.map((d) => d.approverId));
      return {
        status: 'pending',
        level: n,
        approvals,
        quorum: level.quorum,
        waitingOn: level.approverIds.filter((a) => a !== requesterId && !acted.has(a)),
      };
    }
  }
  return { status: 'approved' };
}

/**
 * Why a person may not decide: a code the layers act on (the HTTP status follows it) and words
 * for the person. `already_decided` and `settled` are conflicts with what happened; the rest say
 * who may decide.
 */
export const DECISION_REFUSAL_CODES = ['own_request', 'already_decided', 'settled', 'other_level', 'not_an_approver'] as const;
export type DecisionRefusalCode = (typeof DECISION_REFUSAL_CODES)[number];

export interface DecisionRefusal {
  code: DecisionRefusalCode;
  message: string;
}

/** A refusal that reports a conflict with what already happened (rather than a missing right). */
export const isConflictCode = (code: DecisionRefusalCode): boolean => code === 'already_decided' || code === 'settled';
export const isConflict = (r: DecisionRefusal): boolean => isConflictCode(r.code);

/** Why this person may not decide now, or null. */
export function decisionRefusal(
  levels: readonly ResolvedLevel[],
  requesterId: string,
  decisions: readonly Decision[],
  approverId: string,
): DecisionRefusal | null {
  if (approverId === requesterId) return { code: 'own_request', message: 'you cannot approve or deny your own request' };
  if (decisions.some((d) => d.approverId === approverId)) return { code: 'already_decided', message: 'you have already decided on this request' };
  const state = resolveApprovals(levels, requesterId, decisions);
  if (state.status !== 'pending') return { code: 'settled', message: `the request is already ${state.status}` };
  const level = levels[state.level - 1]!;
  if (!level.approverIds.includes(approverId)) {
    const later = levels.findIndex((l) => l.approverIds.includes(approverId));
    return later >= 0
      ? { code: 'other_level', message: `you approve at level ${later + 1}; the request is waiting for level ${state.level}` }
      : { code: 'not_an_approver', message: 'you are not an approver of this request' };
  }
  return null;
}
