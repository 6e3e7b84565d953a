/**
 * An approver decides on a pending request: approve (possibly shortening it or moving its start)
 * or deny. The grant row is locked for the decision, so concurrent approvers are counted exactly;
 * a unique row per approver means nobody decides twice. Level n+1 is asked once level n has its
 * quorum; the requester hears of every decision, the other approvers of each other's.
 */
import { randomUUID } from 'node:crypto';
import { AppError, forbidden, notFound, policyViolation } from '../core/errors.js';
import { decisionRefusal, isConflict, resolveApprovals, type Decision } from '../core/approval.js';
import { formatDuration, windowRefusal } from '../core/policy-evaluation.js';
import { readRules } from '../core/policy-rules.js';
import type { AuditInput } from '../audit/types.js';
import type { GrantRow } from '../store/schema.js';
import type { Actor, AppDeps } from './deps.js';
import { applyGrantEvent } from './grant-transitions.js';
import { type Write, writeTogether } from '../store/write-together.js';
import { requireFreshTotp } from '../auth/totp.js';
import { approversAt, grantSummary, resolveLevels, summaryOf } from './approvers.js';
import { requesterCannotAsk, rolesOf, standingProblem } from './requester-standing.js';

export interface DecisionInput {
  decision: 'approve' | 'deny';
  reason?: string | null;
  /** Shorten: never longer than asked. */
  durationSeconds?: number;
  /** Move the start (still within what the policy allows ahead, and within its access windows). */
  startAt?: Date | null;
  /** A fresh authenticator code, when the policy demands one to approve. */
  totp?: string;
}

/** The policy's demand for a fresh code is checked before the decision's transaction. */
export async function requireApproverMfa(deps: AppDeps, grantId: string, approverId: string, code: string | undefined): Promise<void> {
  const row = await deps.db
    .selectFrom('grants')
    .leftJoin('policies', 'policies.id', 'grants.policy_id')
    .select('policies.rules')
    .where('grants.id', '=', grantId)
    .executeTakeFirst();
  if (row && readRules(row.rules).mfa.approve) await requireFreshTotp(deps, approverId, code, 'approve');
}

export async function decideRequest(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  approverId: string,
  grantId: string,
  input: DecisionInput,
): Promise<GrantRow> {
  // The policy's demand for a fresh code is read in the decision's own locked read. A code is
  // checked outside any transaction (spent, and a failure audited, whatever happens next), so a
  // policy that demands one sends the decision out to check it, then in again: one read fewer
  // for every decision under a policy that does not.
  try {
    return await decideOnce(deps, actor, tenantId, approverId, grantId, input, false);
  } catch (err) {
    if (!(err instanceof CodeNeeded)) throw err;
  }
  await requireFreshTotp(deps, approverId, input.totp, 'approve');
  return decideOnce(deps, actor, tenantId, approverId, grantId, input, true);
}

/** Thrown inside the decision's transaction (which it rolls back) when the policy wants a code not checked yet. */
class CodeNeeded extends Error {}

async function decideOnce(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  approverId: string,
  grantId: string,
  input: DecisionInput,
  codeChecked: boolean,
): Promise<GrantRow> {
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (tx) => {
    // The grant locked, with what the decision and its messages need from around it (one read).
    const locked = await tx
      .selectFrom('grants')
      .leftJoin('policies', 'policies.id', 'grants.policy_id')
      .leftJoin('operators', 'operators.id', 'grants.operator_id')
      .leftJoin('targets', 'targets.id', 'grants.target_id')
      .leftJoin('access_requests', 'access_requests.id', 'grants.request_id')
      .leftJoin('memberships as rm', (j) => j.onRef('rm.operator_id', '=', 'grants.operator_id').on('rm.tenant_id', '=', tenantId))
      .selectAll('grants')
      .select(['policies.rules as policy_rules', 'policies.name as policy_name', 'operators.email as requester_email', 'targets.name as target_name', 'access_requests.reason as request_reason'])
      .select(['policies.target_id as policy_target_id', 'policies.entitlements as policy_entitlements', 'policies.requester_roles as policy_requester_roles'])
      // The requester's standing now (requester-standing.ts), in the same read.
      .select(['operators.disabled as requester_disabled', 'operators.platform_admin as requester_platform_admin', 'rm.roles as requester_roles', 'rm.disabled_at as requester_membership_disabled_at'])
      .where('grants.id', '=', grantId)
      .where('grants.tenant_id', '=', tenantId)
      .forUpdate('grants')
      .executeTakeFirst();
    if (!locked) throw notFound(`request ${grantId}`);
    const rules = readRules(locked.policy_rules);
    if (!codeChecked && rules.mfa.approve) throw new CodeNeeded();
    const {
      policy_rules, policy_name, requester_email, target_name, request_reason, policy_target_id, policy_entitlements, policy_requester_roles,
      requester_disabled, requester_platform_admin, requester_roles, requester_membership_disabled_at, ...row
    } = locked;
    let grant: GrantRow = row;
    if (grant.state !== 'requested') throw new AppError('conflict', `the request is already ${grant.state}`);
    if (grant.pending_expires_at && now >= grant.pending_expires_at) {
      throw new AppError('conflict', `the request expired at ${grant.pending_expires_at.toISOString()} before it was ${input.decision === 'deny' ? 'decided: there is nothing left to deny' : 'approved'}`);
    }
    const policy = policy_name === null ? undefined : { name: policy_name };
    const levels = await resolveLevels(tx, tenantId, rules.approvalLevels);
    const previous = await tx
      .selectFrom('approvals')
      .select(['approver_id', 'level', 'decision'])
      .where('subject_type', '=', 'grant')
      .where('subject_id', '=', grant.id)
      .execute();
    const decisions: Decision[] = previous.map((d) => ({ approverId: d.approver_id, level: d.level, decision: d.decision }));
    const refusal = decisionRefusal(levels, grant.operator_id, decisions, approverId);
    if (refusal) {
      if (isConflict(refusal)) throw new AppError('conflict', refusal.message);
      throw forbidden(refusal.message);
    }
    const state = resolveApprovals(levels, grant.operator_id, decisions);
    const level = state.status === 'pending' ? state.level : 0;
    if (input.decision === 'approve') {
      // Access goes to someone who may still ask for it: a requester demoted, or dropped from the
      // policy, while the request waited gets nothing from it (a denial is still recorded).
      const terms =
        policy_name === null || policy_requester_roles === null
          ? undefined
          : { name: policy_name, target_id: policy_target_id, entitlements: policy_entitlements, requester_roles: policy_requester_roles, rules: policy_rules };
      const standing =
        requester_disabled === null
          ? undefined
          : { disabled: requester_disabled, platform_admin: requester_platform_admin ?? false, roles: requester_roles, disabled_at: requester_membership_disabled_at };
      const problem = await standingProblem(tx, tenantId, grant, rolesOf(standing), terms);
      if (problem) throw new AppError('conflict', `${requesterCannotAsk(problem)}, so this request cannot be approved; deny it instead`);
    }

    if (input.decision === 'approve' && input.durationSeconds !== undefined && input.durationSeconds > grant.duration_seconds) {
      throw policyViolation(
        `approvers may shorten a request, not lengthen it (asked: ${formatDuration(grant.duration_seconds)}, given: ${formatDuration(input.durationSeconds)})`,
      );
    }
    if (input.decision === 'approve' && input.startAt) {
      if (input.startAt.getTime() < now.getTime() - 60_000) throw policyViolation('the new start time is in the past');
      const aheadDays = (input.startAt.getTime() - now.getTime()) / 86_400_000;
      if (aheadDays > Math.max(rules.maxScheduleAheadDays, 0) && input.startAt.getTime() > now.getTime() + 60_000) {
        throw policyViolation(`policy "${policy?.name}" allows a start at most ${rules.maxScheduleAheadDays} day(s) ahead`);
      }
      // The policy's access windows bind the approver's start as they bound the requester's.
      const start = input.startAt > now ? input.startAt : now;
      const outside = windowRefusal(rules.windows, start, input.durationSeconds ?? grant.duration_seconds);
      if (outside) throw policyViolation(`the new start is outside policy "${policy?.name}": ${outside}`);
    }

    // Sent with the change the decision leads to, in one statement (below).
    const recorded = tx.insertInto('approvals').values({
      id: randomUUID(),
      tenant_id: tenantId,
      subject_type: 'grant',
      subject_id: grant.id,
      grant_id: grant.id,
      level,
      approver_id: approverId,
      decision: input.decision,
      reason: input.reason ?? null,
      duration_seconds: input.durationSeconds ?? null,
      start_at: input.startAt ?? null,
      created_at: now,
    });
    const changes: Record<string, unknown> = {};
    if (input.decision === 'approve' && (input.durationSeconds !== undefined || input.startAt)) {
      grant = await tx
        .updateTable('grants')
        .set({
          ...(input.durationSeconds !== undefined ? { duration_seconds: input.durationSeconds } : {}),
          ...(input.startAt ? { requested_start_at: input.startAt } : {}),
          updated_at: now,
        })
        .where('id', '=', grant.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      if (input.durationSeconds !== undefined) changes.durationSeconds = input.durationSeconds;
      if (input.startAt) changes.startAt = input.startAt.toISOString();
    }
    // Written with the change it leads to (one statement for the decision's events).
    const decided: AuditInput = {
      tenantId,
      actor,
      action: input.decision === 'approve' ? 'approval.approved' : 'approval.denied',
      subject: { type: 'grant', id: grant.id },
      reason: input.reason ?? null,
      after: { level, ...changes },
    };

    const after = resolveApprovals(levels, grant.operator_id, [...decisions, { approverId, level, decision: input.decision }]);
    const about = requester_email !== null && target_name !== null && request_reason !== null ? { requesterEmail: requester_email, targetName: target_name, reason: request_reason } : null;
    const summary = about ? summaryOf(grant, about) : await grantSummary(tx, grant);
    const everyApprover = [...new Set(levels.flatMap((l) => l.approverIds))].filter((a) => a !== approverId && a !== grant.operator_id);
    // The requester hears of every decision, final or not.
    const told = input.decision === 'deny' ? 'denied' : input.durationSeconds !== undefined ? 'shortened' : 'approved';
    const messages = await deps.notifier?.enqueueAllWrite(tx, tenantId, [
      { event: { type: 'approver_acted', grant: summary, by: approverId, decision: input.decision, level }, recipients: { operatorIds: everyApprover } },
      {
        event: { type: 'request_decided', grant: summary, decision: told, by: approverId, level, final: after.status !== 'pending', reason: input.reason ?? null },
        recipients: { operatorIds: [grant.operator_id] },
      },
    ]);
    // The decision's row and its messages, written with the grant's change.
    const alongside: Write[] = [recorded, ...(messages ? [messages] : [])];

    if (after.status === 'denied') {
      return applyGrantEvent(deps, tx, grant, { type: 'deny', reason: input.reason || 'denied by an approver' }, actor, { audit: [decided], alongside });
    }
    if (after.status === 'approved') {
      if (!input.startAt) {
        // The last approval starts the access now (or at the request's own later start): the
        // windows checked when it was asked for must hold then too, or it would run outside them.
        const start = grant.requested_start_at && grant.requested_start_at > now ? grant.requested_start_at : now;
        const outside = windowRefusal(rules.windows, start, grant.duration_seconds);
        if (outside) throw policyViolation(`approved now, this access would be outside policy "${policy?.name}": ${outside}; approve it with a start (startAt) inside the window, or deny it`);
      }
      return applyGrantEvent(deps, tx, grant, { type: 'approve' }, actor, { reason: `approved at every level (last: level ${level})`, audit: [decided], alongside });
    }
    await writeTogether(tx, alongside);
    if (after.level === level) {
      await deps.audit.append(tx, decided);
    } else {
      grant = await tx.updateTable('grants').set({ approval_level: after.level, updated_at: now }).where('id', '=', grant.id).returningAll().executeTakeFirstOrThrow();
      const next = rules.approvalLevels[after.level - 1]!;
      const approvers = (await approversAt(tx, tenantId, next)).filter((a) => a !== grant.operator_id);
      await deps.audit.appendMany(tx, [decided, {
        tenantId,
        actor: { type: 'system', id: null },
        action: 'approval.requested',
        subject: { type: 'grant', id: grant.id },
        after: { level: after.level, quorum: next.quorum, approverIds: approvers },
      }]);
      await deps.notifier?.enqueue(tx, tenantId, { type: 'approval_requested', grant: summary, level: after.level, quorum: next.quorum, approverIds: approvers }, { operatorIds: approvers });
    }
    return grant;
  });
}
