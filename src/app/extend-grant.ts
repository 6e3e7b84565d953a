/**
 * Extending an active grant: within the policy's cap, either at once (self-extension allowed, or
 * no approval levels) or through the same approval levels as a request. The target's native
 * expiry is moved first, so the database never promises more time than the target allows.
 */
import { randomUUID } from 'node:crypto';
import { AppError, classifyTargetError, forbidden, notFound, policyViolation } from '../core/errors.js';
import { can } from '../core/roles.js';
import { decisionRefusal, isConflict, resolveApprovals, type Decision } from '../core/approval.js';
import { formatDuration } from '../core/policy-evaluation.js';
import { windowEnd } from '../core/access-window.js';
import { readRules, type PolicyRules } from '../core/policy-rules.js';
import type { Kysely, Transaction } from 'kysely';
import type { Database, GrantRow, PolicyRow } from '../store/schema.js';
import { acquireAccountLease, releaseAccountLease } from './account-lease.js';
import type { Actor, AppDeps } from './deps.js';
import { applyGrantEvent } from './grant-transitions.js';
import { handleOf, latestEnd, loadGrant, otherHolders } from './grant-queries.js';
import { approversAt, grantSummary, resolveLevels } from './approvers.js';
import { connectorFor, getTarget } from './targets.js';
import { requireApproverMfa } from './decide-request.js';
import { scheduleExpiryWarning } from './expiry-warning.js';
import { requesterCannotAsk, rolesNow, standingProblem } from './requester-standing.js';

export interface ExtensionOutcome {
  applied: boolean;
  extensionId: string;
  grant: GrantRow;
}

/** Reads through `db`, which must be the open transaction when there is one (PGlite has one connection). */
async function policyOf(db: Kysely<Database> | Transaction<Database>, grant: GrantRow) {
  const policy = grant.policy_id ? await db.selectFrom('policies').selectAll().where('id', '=', grant.policy_id).executeTakeFirst() : undefined;
  return { name: policy?.name ?? '(none)', rules: readRules(policy?.rules), row: policy };
}

/**
 * An extension is more access, so it is asked as a request is: by someone who may still request
 * here and whom the grant's policy still lists (by role, by name or by group). A requester
 * demoted to auditor, or dropped from the policy, keeps the grant they hold to its end but gets
 * no more time on it.
 */
async function standingRefusal(deps: AppDeps, tenantId: string, grant: GrantRow, roles: readonly string[], policy: PolicyRow | undefined): Promise<AppError | null> {
  const problem = await standingProblem(deps.db, tenantId, grant, roles, policy);
  if (!problem) return null;
  if (problem.code === 'cannot_request') {
    return forbidden(`you can no longer request access in this tenant (your roles here: ${roles.join(', ') || 'none'}), so this grant cannot be extended`);
  }
  return policyViolation(`${problem.why} any more, so this grant cannot be extended`);
}

/**
 * Why adding `seconds` to the grant would break the policy's cap or run it outside its access
 * windows, or null. Asked when an extension is requested (an early, clear answer) and again where
 * it is applied, under the account lease and the grant's row lock: asks that were each within the
 * cap alone never add up to more than it.
 */
function capRefusal(name: string, rules: PolicyRules, grant: GrantRow, seconds: number): AppError | null {
  if (!rules.extension?.allowed) return policyViolation(`policy "${name}" does not allow extensions; request access again instead`);
  const total = grant.duration_seconds + grant.extended_seconds + seconds;
  if (total > rules.extension.maxTotalSeconds) {
    const room = Math.max(0, rules.extension.maxTotalSeconds - grant.duration_seconds - grant.extended_seconds);
    return policyViolation(
      `policy "${name}" caps a grant at ${formatDuration(rules.extension.maxTotalSeconds)} in total; you can extend by at most ${formatDuration(room)}`,
    );
  }
  // The policy's access windows bind the new end as they bound the request: more time never
  // runs the access past the window it is in. Break-glass access was given outside the windows
  // on purpose, and its extensions are too.
  if (grant.expires_at && !grant.emergency) {
    const closes = windowEnd(rules.windows, grant.expires_at, seconds * 1000);
    if (closes) {
      const room = Math.floor(Math.max(0, closes.getTime() - grant.expires_at.getTime()) / 1000);
      return policyViolation(
        `policy "${name}" allows access only inside its windows, and this one closes at ${closes.toISOString()}; you can extend by at most ${formatDuration(room)}`,
      );
    }
  }
  return null;
}

const cannotExtend = (kind: string) => policyViolation(`targets of kind ${kind} cannot move their expiry; request access again instead`);

const onePending = () =>
  new AppError('conflict', 'an extension of this grant is already waiting for approval; wait for its decision before asking again');

export async function requestExtension(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  requester: { operatorId: string; roles: readonly string[] },
  grantId: string,
  input: { seconds: number; reason: string },
): Promise<ExtensionOutcome> {
  const requesterId = requester.operatorId;
  const grant = await loadGrant(deps.db, grantId);
  if (!grant || grant.tenant_id !== tenantId) throw notFound(`grant ${grantId}`);
  if (grant.operator_id !== requesterId) {
    // Someone else's: those who may see it are told why; to others it does not exist.
    if (!can(requester.roles, 'grants.read_all')) throw notFound(`grant ${grantId}`);
    throw forbidden('only the person who holds a grant asks for more time on it; an approver then decides');
  }
  if (grant.state !== 'active') throw new AppError('conflict', `only an active grant can be extended (this one is ${grant.state})`);
  const { name, rules, row: policyRow } = await policyOf(deps.db, grant);
  const standing = await standingRefusal(deps, tenantId, grant, requester.roles, policyRow);
  if (standing) throw standing;
  const early = capRefusal(name, rules, grant, input.seconds);
  if (early) throw early;
  // Asked of a kind that cannot move its end, an extension could only be approved and then fail.
  const target = await getTarget(deps, tenantId, grant.target_id);
  if (!connectorFor(deps, target).instance.extend) throw cannotExtend(target.kind);
  const id = randomUUID();
  const now = deps.clock.now();
  const immediate = rules.extension!.selfApprove || rules.approvalLevels.length === 0;
  await deps.db.transaction().execute(async (tx) => {
    // The grant's row lock orders concurrent asks: each sees the one before it.
    const locked = await tx.selectFrom('grants').selectAll().where('id', '=', grant.id).forUpdate().executeTakeFirstOrThrow();
    if (locked.state !== 'active') throw new AppError('conflict', `only an active grant can be extended (this one is ${locked.state})`);
    const refusal = capRefusal(name, rules, locked, input.seconds);
    if (refusal) throw refusal;
    const waiting = await tx.selectFrom('grant_extensions').select('id').where('grant_id', '=', grant.id).where('state', '=', 'pending').executeTakeFirst();
    if (waiting) throw onePending();
    await tx
      .insertInto('grant_extensions')
      .values({ id, tenant_id: tenantId, grant_id: grant.id, requester_id: requesterId, seconds: input.seconds, reason: input.reason, state: immediate ? 'approved' : 'pending', created_at: now, decided_at: immediate ? now : null })
      .execute()
      .catch((err: unknown) => {
        if ((err as { code?: unknown } | null)?.code === '23505') throw onePending();
        throw err;
      });
    // Live views (the dashboard's event stream) follow grants' updated_at.
    await tx.updateTable('grants').set({ updated_at: now }).where('id', '=', grant.id).execute();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'extension.requested',
      subject: { type: 'grant', id: grant.id },
      reason: input.reason,
      after: { extensionId: id, seconds: input.seconds, selfApproved: immediate },
    });
    if (!immediate) {
      const first = rules.approvalLevels[0]!;
      const approvers = (await approversAt(tx, tenantId, first)).filter((a) => a !== requesterId);
      await deps.notifier?.enqueue(
        tx,
        tenantId,
        { type: 'approval_requested', grant: await grantSummary(tx, grant), level: 1, quorum: first.quorum, approverIds: approvers, extensionSeconds: input.seconds },
        { operatorIds: approvers },
      );
    }
  });
  if (!immediate) return { applied: false, extensionId: id, grant };
  const applied = await applyExtension(deps, actor, { id, grantId: grant.id, seconds: input.seconds, reason: input.reason });
  return { applied: true, extensionId: id, grant: applied };
}

/**
 * An approved extension that could not be applied (the cap no longer leaves room, the grant
 * ended, the target refused) is cancelled with the reason audited, so the record never says
 * "approved" for time that was not given. Only an extension still approved is touched.
 */
async function cancelUnapplied(deps: AppDeps, actor: Actor, ext: ApprovedExtension, why: string): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    const cancelled = await tx
      .updateTable('grant_extensions')
      .set({ state: 'cancelled', decided_at: deps.clock.now() })
      .where('id', '=', ext.id)
      .where('state', '=', 'approved')
      .returning('tenant_id')
      .executeTakeFirst();
    if (!cancelled) return;
    await deps.audit.append(tx, {
      tenantId: cancelled.tenant_id,
      actor,
      action: 'extension.cancelled',
      subject: { type: 'grant', id: ext.grantId },
      reason: why,
      after: { extensionId: ext.id, seconds: ext.seconds },
    });
  });
}

interface ApprovedExtension {
  id: string;
  grantId: string;
  seconds: number;
  reason: string;
}

/**
 * Moves the end on the target (native expiry) and then in the store. The account lease keeps
 * every other change of this account (another extension, a revocation) out meanwhile; the cap is
 * checked under it before the target is touched, and once more under the grant's row lock in the
 * transaction that moves the end.
 */
export async function applyExtension(deps: AppDeps, actor: Actor, ext: ApprovedExtension): Promise<GrantRow> {
  try {
    return await applyApproved(deps, actor, ext);
  } catch (err) {
    if (err instanceof AppError) await cancelUnapplied(deps, actor, ext, err.message);
    throw err;
  }
}

async function applyApproved(deps: AppDeps, actor: Actor, ext: ApprovedExtension): Promise<GrantRow> {
  const grant = await loadGrant(deps.db, ext.grantId);
  if (!grant || grant.state !== 'active' || !grant.expires_at) throw new AppError('conflict', 'the grant is no longer active');
  const token = `${deps.workerId}:extend:${grant.id}:${randomUUID().slice(0, 8)}`;
  let leased = false;
  for (let i = 0; i < 50 && !leased; i++) {
    leased = await acquireAccountLease(deps.db, grant.jit_account_id, token, deps.clock.now());
    if (!leased) await new Promise((r) => setTimeout(r, 100));
  }
  if (!leased) throw new AppError('conflict', 'the account is busy with another change; try again in a moment');
  try {
    const current = await loadGrant(deps.db, grant.id);
    if (!current || current.state !== 'active' || !current.expires_at) throw new AppError('conflict', 'the grant is no longer active');
    const { name, rules } = await policyOf(deps.db, current);
    const overCap = capRefusal(name, rules, current, ext.seconds);
    if (overCap) throw overCap;
    const target = await getTarget(deps, current.tenant_id, current.target_id);
    const { instance } = connectorFor(deps, target);
    if (!instance.extend) throw cannotExtend(target.kind);
    const newEnd = new Date(current.expires_at.getTime() + ext.seconds * 1000);
    const until = latestEnd([{ ...current, expires_at: newEnd }, ...(await otherHolders(deps.db, current))]) ?? newEnd;
    try {
      await deps.targetLimiter.run(target.id, () => instance.extend!({ log: deps.log }, handleOf(current), until));
    } catch (err) {
      const e = classifyTargetError(err);
      throw new AppError('target_error', `target "${target.name}" could not move the expiry: ${e.message}`);
    }
    return await deps.db.transaction().execute(async (tx) => {
      const fresh = await tx.selectFrom('grants').selectAll().where('id', '=', grant.id).forUpdate().executeTakeFirst();
      if (!fresh || fresh.state !== 'active') throw new AppError('conflict', 'the grant ended while it was being extended');
      const refusal = capRefusal(name, rules, fresh, ext.seconds);
      if (refusal) throw refusal;
      const extended = await applyGrantEvent(deps, tx, fresh, { type: 'extend', seconds: ext.seconds }, actor, {
        reason: ext.reason,
        extra: { extended_seconds: fresh.extended_seconds + ext.seconds },
      });
      await scheduleExpiryWarning(deps, tx, extended);
      return extended;
    });
  } finally {
    await releaseAccountLease(deps.db, grant.jit_account_id, token);
  }
}

export async function decideExtension(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  approverId: string,
  extensionId: string,
  input: { decision: 'approve' | 'deny'; reason?: string | null; totp?: string },
): Promise<{ state: string; grant: GrantRow | null }> {
  const now = deps.clock.now();
  const pending = await deps.db.selectFrom('grant_extensions').select('grant_id').where('id', '=', extensionId).where('tenant_id', '=', tenantId).executeTakeFirst();
  if (pending) await requireApproverMfa(deps, pending.grant_id, approverId, input.totp);
  const outcome = await deps.db.transaction().execute(async (tx) => {
    const ext = await tx.selectFrom('grant_extensions').selectAll().where('id', '=', extensionId).where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
    if (!ext) throw notFound(`extension ${extensionId}`);
    if (ext.state !== 'pending') throw new AppError('conflict', `the extension is already ${ext.state}`);
    const grant = await tx.selectFrom('grants').selectAll().where('id', '=', ext.grant_id).executeTakeFirstOrThrow();
    // An extension of a grant that has ended extends nothing: it is not decided (nor recorded approved).
    if (grant.state !== 'active') throw new AppError('conflict', `the grant is ${grant.state}; its extension can no longer be decided`);
    const { rules, row: policyRow } = await policyOf(tx, grant);
    const levels = await resolveLevels(tx, tenantId, rules.approvalLevels);
    const prev = await tx.selectFrom('approvals').select(['approver_id', 'level', 'decision']).where('subject_type', '=', 'extension').where('subject_id', '=', ext.id).execute();
    const decisions: Decision[] = prev.map((d) => ({ approverId: d.approver_id, level: d.level, decision: d.decision }));
    const refusal = decisionRefusal(levels, ext.requester_id, decisions, approverId);
    if (refusal) throw isConflict(refusal) ? new AppError('conflict', refusal.message) : forbidden(refusal.message);
    const current = resolveApprovals(levels, ext.requester_id, decisions);
    const level = current.status === 'pending' ? current.level : 0;
    if (input.decision === 'approve') {
      // The requester's standing counts when the time is given, not only when it was asked for.
      const problem = await standingProblem(tx, tenantId, grant, await rolesNow(tx, tenantId, grant.operator_id), policyRow);
      if (problem) throw new AppError('conflict', `${requesterCannotAsk(problem)}, so this extension cannot be approved; deny it instead`);
    }
    await tx
      .insertInto('approvals')
      .values({ id: randomUUID(), tenant_id: tenantId, subject_type: 'extension', subject_id: ext.id, grant_id: grant.id, level, approver_id: approverId, decision: input.decision, reason: input.reason ?? null, duration_seconds: null, start_at: null, created_at: now })
      .execute();
    const after = resolveApprovals(levels, ext.requester_id, [...decisions, { approverId, level, decision: input.decision }]);
    const state = after.status === 'pending' ? 'pending' : after.status;
    if (state !== 'pending') await tx.updateTable('grant_extensions').set({ state, decided_at: now }).where('id', '=', ext.id).execute();
    else if (after.status === 'pending' && after.level !== ext.approval_level) await tx.updateTable('grant_extensions').set({ approval_level: after.level }).where('id', '=', ext.id).execute();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: input.decision === 'approve' ? 'extension.approved' : 'extension.denied',
      subject: { type: 'grant', id: grant.id },
      reason: input.reason ?? null,
      after: { extensionId: ext.id, level, state },
    });
    await deps.notifier?.enqueue(tx, tenantId, { type: 'request_decided', grant: await grantSummary(tx, grant), decision: input.decision === 'approve' ? 'approved' : 'denied', by: approverId, level, final: state !== 'pending', extensionSeconds: ext.seconds }, { operatorIds: [ext.requester_id] });
    return { state, ext };
  });
  if (outcome.state !== 'approved') return { state: outcome.state, grant: null };
  const grant = await applyExtension(deps, actor, { id: outcome.ext.id, grantId: outcome.ext.grant_id, seconds: outcome.ext.seconds, reason: outcome.ext.reason });
  return { state: 'approved', grant };
}
