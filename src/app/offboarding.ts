/**
 * Offboarding in one action: disable an operator in one tenant (their membership) or everywhere
 * (platform administrators). In order, each step audited:
 *   1. in the same commit as the switch itself: every session and API token of theirs ends (the
 *      next call is 401), the SSH keys registered in their profile for the gateway are removed,
 *      their pending requests are cancelled and every live grant moves to revoking;
 *   2. the revocations then run through the normal lifecycle (native expiry on the target, revoke
 *      job, verify, audit);
 *   3. requests and extension requests waiting on them as an approver are re-routed to the
 *      level's remaining approvers, or flagged with an alert when the level can no longer reach
 *      its quorum (the report's approval counts include extensions).
 * Re-enabling restores sign-in only: grants stay ended, tokens stay revoked.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { AppError, conflict, forbidden, notFound } from '../core/errors.js';
import { resolveApprovals, type Decision } from '../core/approval.js';
import { readRules } from '../core/policy-rules.js';
import type { Database, GrantRow } from '../store/schema.js';
import type { Tokens } from '../auth/tokens.js';
import type { AccessEnded, MemberRemoval } from '../auth/member-removal.js';
import { assertOwnerRemains } from '../auth/operators.js';
import type { Actor, AppDeps } from './deps.js';
import { applyGrantEvent } from './grant-transitions.js';
import { approversAt, grantSummary, resolveLevels } from './approvers.js';
import { groupMembers } from './operator-groups.js';
import { removeAllOperatorKeysIn } from '../gateway/operator-keys.js';

type Tx = Transaction<Database>;

export interface OffboardingDeps extends AppDeps {
  tokens: Pick<Tokens, 'revokeAllOf'>;
}

export interface OffboardingReport {
  sessionsAndTokensEnded: number;
  requestsCancelled: number;
  grantsRevoked: number;
  approvalsRerouted: number;
  approvalsFlagged: number;
}

/** Who is being disabled or enabled in a tenant, as the route's guard sees them. */
export interface MemberTarget {
  roles: string[];
  /** A platform administrator is an owner of every tenant, whatever their membership says. */
  platformAdmin: boolean;
}

/** A decision waiting on approvers: a request (subject `grant`) or an extension request. */
interface WaitingDecision {
  subjectType: 'grant' | 'extension';
  subjectId: string;
  grant: GrantRow;
  requesterId: string;
  level: number;
  extensionSeconds?: number;
}

const LIVE = ['activating', 'active'] as const;
const PENDING = ['requested', 'approved'] as const;

/** The operator's pending requests and live grants, in one tenant or all. */
function openGrantsOf(db: Kysely<Database> | Tx, operatorId: string, tenantId: string | null) {
  const q = db.selectFrom('grants').selectAll().where('operator_id', '=', operatorId).where('state', 'in', [...PENDING, ...LIVE]);
  return tenantId ? q.where('tenant_id', '=', tenantId) : q;
}

/** What ends a grant of someone leaving: a pending request is cancelled, a live grant revoked. */
function endingEvent(g: GrantRow, reason: string) {
  if ((PENDING as readonly string[]).includes(g.state)) return { type: 'cancel', reason } as const;
  if ((LIVE as readonly string[]).includes(g.state)) return { type: 'revoke', reason } as const;
  return null;
}

export function createOffboarding(deps: OffboardingDeps) {
  const { db, audit, clock, tokens } = deps;

  /** Whether the person is an enabled member of a tenant other than `tenantId`. */
  async function belongsElsewhere(tx: Tx, operatorId: string, tenantId: string): Promise<boolean> {
    const other = await tx
      .selectFrom('memberships')
      .select('tenant_id')
      .where('operator_id', '=', operatorId)
      .where('tenant_id', '!=', tenantId)
      .where('disabled_at', 'is', null)
      .executeTakeFirst();
    return other !== undefined;
  }

  /**
   * Sessions, tokens, SSH keys and gateway connections are the person's, not a tenant's. A tenant
   * acting on someone who also belongs elsewhere ends only what is confined to it (its single
   * sign-on's sessions and tokens): its own access is ended by disabling the membership, and it
   * must not cut the person off in tenants it does not run.
   */
  async function endSessionsIn(tx: Tx, operatorId: string, tenantId: string | null, actor: Actor, reason: string, everywhere = false): Promise<number> {
    const onlyHere = !everywhere && tenantId !== null && (await belongsElsewhere(tx, operatorId, tenantId));
    let ended: number;
    let keys = 0;
    if (onlyHere) {
      ended = await tokens.revokeAllOf(operatorId, { apiTokens: true, confinedTo: tenantId }, tx);
    } else {
      ended = await tokens.revokeAllOf(operatorId, { apiTokens: true }, tx);
      // A key registered with a stolen session would otherwise keep opening the gateway, and an
      // SSH connection already open through it would keep its sessions (grant-watch.ts closes them).
      keys = await removeAllOperatorKeysIn(tx, audit, operatorId, { tenantId, actor, reason });
      await tx.updateTable('operators').set({ sessions_ended_at: clock.now() }).where('id', '=', operatorId).execute();
    }
    await audit.append(tx, {
      tenantId,
      actor,
      action: 'operator.sessions_ended',
      subject: { type: 'operator', id: operatorId },
      reason,
      after: { sessionsAndTokensEnded: ended, sshKeysRemoved: keys, ...(onlyHere ? { onlyThisTenants: true } : {}) },
    });
    return ended;
  }

  /**
   * Ends every session and API token of the operator (and removes their SSH keys) without
   * disabling them. From a tenant, for a person who also belongs to other tenants: refused, as
   * that would cut them off there too (disabling them here ends their access here at once),
   * unless `everywhere` (a platform administrator acts).
   */
  async function endSessions(operatorId: string, tenantId: string | null, actor: Actor, reason: string, everywhere = false): Promise<number> {
    return db.transaction().execute(async (tx) => {
      if (!everywhere && tenantId !== null && (await belongsElsewhere(tx, operatorId, tenantId))) {
        throw conflict(
          'this person also belongs to other tenants, and their sign-ins, tokens and SSH keys are theirs in all of them: disable them here to end their access here at once, or ask a platform administrator, who can end their sign-ins everywhere',
        );
      }
      // Refused above whenever it would reach into another tenant: from here, everything of theirs ends.
      return endSessionsIn(tx, operatorId, tenantId, actor, reason, true);
    });
  }

  /**
   * What waits on an approver in a tenant: requests (subject `grant`) and extension requests
   * (subject `extension`), each at its current approval level of the grant's policy.
   */
  async function waitingDecisions(operatorId: string, tenantId: string): Promise<WaitingDecision[]> {
    const requests = await db.selectFrom('grants').selectAll().where('tenant_id', '=', tenantId).where('state', '=', 'requested').where('operator_id', '!=', operatorId).execute();
    const extensions = await db.selectFrom('grant_extensions').selectAll().where('tenant_id', '=', tenantId).where('state', '=', 'pending').where('requester_id', '!=', operatorId).execute();
    const extended = extensions.length ? await db.selectFrom('grants').selectAll().where('id', 'in', extensions.map((e) => e.grant_id)).execute() : [];
    return [
      ...requests.map((g): WaitingDecision => ({ subjectType: 'grant', subjectId: g.id, grant: g, requesterId: g.operator_id, level: g.approval_level })),
      ...extensions.flatMap((e): WaitingDecision[] => {
        const grant = extended.find((g) => g.id === e.grant_id);
        return grant ? [{ subjectType: 'extension', subjectId: e.id, grant, requesterId: e.requester_id, level: e.approval_level, extensionSeconds: e.seconds }] : [];
      }),
    ];
  }

  /** Whether the decision is still open (read in the re-routing transaction). */
  async function stillWaiting(tx: Tx, w: WaitingDecision): Promise<boolean> {
    if (w.subjectType === 'grant') return !!(await tx.selectFrom('grants').select('id').where('id', '=', w.subjectId).where('state', '=', 'requested').executeTakeFirst());
    return !!(await tx.selectFrom('grant_extensions').select('id').where('id', '=', w.subjectId).where('state', '=', 'pending').executeTakeFirst());
  }

  /**
   * Requests and extension requests of a tenant whose current level named this operator
   * (directly or by group): tell the remaining approvers, or raise an alert when the quorum is
   * out of reach.
   */
  async function rerouteApprovals(operatorId: string, tenantId: string, actor: Actor) {
    let rerouted = 0;
    let flagged = 0;
    for (const w of await waitingDecisions(operatorId, tenantId)) {
      const g = w.grant;
      const policy = g.policy_id ? await db.selectFrom('policies').select('rules').where('id', '=', g.policy_id).executeTakeFirst() : undefined;
      const rules = readRules(policy?.rules);
      const level = rules.approvalLevels[w.level - 1];
      if (!level) continue;
      const inGroups = [...(await groupMembers(db, tenantId, level.groupIds)).values()].flat();
      if (!level.approverIds.includes(operatorId) && !inGroups.includes(operatorId)) continue;
      await db.transaction().execute(async (tx) => {
        if (!(await stillWaiting(tx, w))) return;
        const levels = await resolveLevels(tx, tenantId, rules.approvalLevels);
        const prior = await tx.selectFrom('approvals').select(['approver_id', 'level', 'decision']).where('subject_type', '=', w.subjectType).where('subject_id', '=', w.subjectId).execute();
        const decisions: Decision[] = prior.map((d) => ({ approverId: d.approver_id, level: d.level, decision: d.decision }));
        const state = resolveApprovals(levels, w.requesterId, decisions);
        if (state.status !== 'pending') return;
        const remaining = (await approversAt(tx, tenantId, level)).filter((a) => a !== w.requesterId);
        // Only approvals of those who may still approve count (resolveApprovals): the disabled
        // approver's own earlier approval no longer makes up the quorum.
        const approvedHere = decisions.filter((d) => d.level === w.level && d.decision === 'approve' && remaining.includes(d.approverId)).length;
        const undecided = remaining.filter((a) => !decisions.some((d) => d.approverId === a));
        const summary = await grantSummary(tx, g);
        const extension = w.subjectType === 'extension' ? { extensionId: w.subjectId } : {};
        if (approvedHere + undecided.length < level.quorum) {
          const what = w.subjectType === 'extension' ? `Extension request ${w.subjectId} of grant ${g.id}` : `Request ${g.id}`;
          const message = `${what} (${summary.requesterEmail} on ${summary.targetName}) can no longer reach the quorum of approval level ${w.level} (${level.quorum} needed, ${approvedHere} given, ${undecided.length} approver(s) left) after an approver was disabled`;
          await tx.insertInto('alerts').values({ id: randomUUID(), tenant_id: tenantId, grant_id: g.id, severity: 'warning', message, created_at: clock.now() }).execute();
          await audit.append(tx, { tenantId, actor, action: 'alert.raised', subject: { type: 'grant', id: g.id }, reason: message, after: { severity: 'warning', disabledApproverId: operatorId, ...extension } });
          flagged++;
          return;
        }
        await audit.append(tx, {
          tenantId,
          actor,
          action: 'approval.rerouted',
          subject: { type: 'grant', id: g.id },
          after: { level: w.level, quorum: level.quorum, approverIds: remaining, disabledApproverId: operatorId, ...extension },
        });
        const asked = { type: 'approval_requested' as const, grant: summary, level: w.level, quorum: level.quorum, approverIds: undecided };
        await deps.notifier?.enqueue(tx, tenantId, w.extensionSeconds === undefined ? asked : { ...asked, extensionSeconds: w.extensionSeconds }, { operatorIds: undecided });
        rerouted++;
      });
    }
    return { rerouted, flagged };
  }

  /**
   * Someone leaves a tenant (see auth/member-removal.ts) or is disabled, in one tenant or
   * everywhere (tenantId null): in that change's transaction, their pending requests are cancelled
   * and their live grants move to revoking, whose revoke work is stored with them, so no crash
   * between the two can leave a disabled person their access. Rows are locked first, so a
   * concurrent activation either finished before (the grant is revoked as active) or meets a
   * changed grant and stops.
   */
  async function endAccessIn(tx: Tx, tenantId: string | null, operatorId: string, actor: Actor, reason: string): Promise<AccessEnded> {
    const grants = await openGrantsOf(tx, operatorId, tenantId).orderBy('id').forUpdate().execute();
    let requestsCancelled = 0;
    let grantsRevoked = 0;
    for (const g of grants) {
      const event = endingEvent(g, reason);
      if (!event) continue;
      await applyGrantEvent(deps, tx, g, event, actor, { reason });
      if (event.type === 'cancel') requestsCancelled++;
      else grantsRevoked++;
    }
    return { requestsCancelled, grantsRevoked };
  }

  /** After the removal's commit: revocations start now, and approvals waiting on them go elsewhere. */
  async function afterTenantAccessEnded(tenantId: string, operatorId: string, actor: Actor): Promise<void> {
    deps.poke();
    await rerouteApprovals(operatorId, tenantId, actor);
  }

  /** The member's roles here and whether they are a platform administrator (in a transaction: `tx`). */
  async function memberTarget(tx: Kysely<Database>, tenantId: string, operatorId: string) {
    const m = await tx
      .selectFrom('memberships as m')
      .innerJoin('operators as o', 'o.id', 'm.operator_id')
      .select(['m.roles', 'm.disabled_at', 'o.platform_admin'])
      .where('m.tenant_id', '=', tenantId)
      .where('m.operator_id', '=', operatorId)
      .executeTakeFirst();
    if (!m) throw notFound('member');
    return { roles: m.roles, platformAdmin: m.platform_admin, disabledAt: m.disabled_at };
  }

  /** Disable in one tenant. `guard` sees who the member is (e.g. only owners may disable an owner). */
  async function disableMember(tenantId: string, operatorId: string, actor: Actor, reason: string, guard: (target: MemberTarget) => void): Promise<OffboardingReport> {
    if (actor.id === operatorId) throw forbidden('you cannot disable yourself');
    const ended = await db.transaction().execute(async (tx) => {
      await tx.selectFrom('tenants').select('id').where('id', '=', tenantId).forUpdate().executeTakeFirstOrThrow();
      const m = await memberTarget(tx, tenantId, operatorId);
      guard(m);
      // A platform administrator reaches every tenant through the platform, not this membership:
      // disabling it would report them offboarded while they kept their access here.
      if (m.platformAdmin) {
        throw conflict('this member is a platform administrator, whose access to every tenant comes from the platform: disabling them here would not end it; another platform administrator can disable them everywhere (POST /api/v1/operators/:id/disable), or end their sessions here');
      }
      if (m.disabledAt) throw conflict('this member is already disabled here');
      if (m.roles.includes('owner')) await assertOwnerRemains(tx, tenantId, operatorId);
      await tx.updateTable('memberships').set({ disabled_at: clock.now() }).where('tenant_id', '=', tenantId).where('operator_id', '=', operatorId).execute();
      await audit.append(tx, { tenantId, actor, action: 'membership.disabled', subject: { type: 'operator', id: operatorId }, reason });
      const sessions = await endSessionsIn(tx, operatorId, tenantId, actor, reason);
      return { sessions, grants: await endAccessIn(tx, tenantId, operatorId, actor, `offboarded: ${reason}`) };
    });
    // The revocations start now; approvals waiting on the person go elsewhere.
    deps.poke();
    const approvals = await rerouteApprovals(operatorId, tenantId, actor);
    return { sessionsAndTokensEnded: ended.sessions, ...ended.grants, approvalsRerouted: approvals.rerouted, approvalsFlagged: approvals.flagged };
  }

  /** The member's roles and platform role, for a route's guard before it acts. */
  async function memberOf(tenantId: string, operatorId: string): Promise<MemberTarget> {
    return memberTarget(db, tenantId, operatorId);
  }

  /** Disable everywhere (platform administrators only; the route checks). */
  async function disableOperator(operatorId: string, actor: Actor, reason: string): Promise<OffboardingReport> {
    if (actor.id === operatorId) throw forbidden('you cannot disable yourself');
    const ended = await db.transaction().execute(async (tx) => {
      const op = await tx.selectFrom('operators').select(['disabled']).where('id', '=', operatorId).forUpdate().executeTakeFirst();
      if (!op) throw notFound('operator');
      if (op.disabled) throw conflict('this operator is already disabled');
      await tx.updateTable('operators').set({ disabled: true }).where('id', '=', operatorId).execute();
      await audit.append(tx, { tenantId: null, actor, action: 'operator.disabled', subject: { type: 'operator', id: operatorId }, reason });
      const sessions = await endSessionsIn(tx, operatorId, null, actor, reason);
      return { sessions, grants: await endAccessIn(tx, null, operatorId, actor, `offboarded: ${reason}`) };
    });
    deps.poke();
    const tenants = await db.selectFrom('memberships').select('tenant_id').where('operator_id', '=', operatorId).execute();
    let rerouted = 0;
    let flagged = 0;
    for (const t of tenants) {
      const r = await rerouteApprovals(operatorId, t.tenant_id, actor);
      rerouted += r.rerouted;
      flagged += r.flagged;
    }
    return { sessionsAndTokensEnded: ended.sessions, ...ended.grants, approvalsRerouted: rerouted, approvalsFlagged: flagged };
  }

  /**
   * Sign-in only: grants and tokens ended by the disabling stay ended. `guard` as in
   * disableMember: whoever may not disable an owner may not bring one back either.
   */
  async function enableMember(tenantId: string, operatorId: string, actor: Actor, guard: (target: MemberTarget) => void): Promise<void> {
    // As with disabling: someone else decides (only a platform administrator could reach the call).
    if (actor.id === operatorId) throw forbidden('you cannot enable yourself');
    await db.transaction().execute(async (tx) => {
      await tx.selectFrom('tenants').select('id').where('id', '=', tenantId).forUpdate().executeTakeFirstOrThrow();
      guard(await memberTarget(tx, tenantId, operatorId));
      const res = await tx.updateTable('memberships').set({ disabled_at: null }).where('tenant_id', '=', tenantId).where('operator_id', '=', operatorId).where('disabled_at', 'is not', null).executeTakeFirst();
      if (res.numUpdatedRows === 0n) throw new AppError('conflict', 'this member is not disabled here');
      await audit.append(tx, { tenantId, actor, action: 'membership.enabled', subject: { type: 'operator', id: operatorId } });
    });
  }

  async function enableOperator(operatorId: string, actor: Actor): Promise<void> {
    await db.transaction().execute(async (tx) => {
      const res = await tx.updateTable('operators').set({ disabled: false }).where('id', '=', operatorId).where('disabled', '=', true).executeTakeFirst();
      if (res.numUpdatedRows === 0n) throw new AppError('conflict', 'this operator is not disabled');
      await audit.append(tx, { tenantId: null, actor, action: 'operator.enabled', subject: { type: 'operator', id: operatorId } });
    });
  }

  const memberRemoval: MemberRemoval = { endAccessIn, afterCommit: afterTenantAccessEnded };
  return { disableMember, disableOperator, enableMember, enableOperator, endSessions, memberOf, memberRemoval };
}

export type Offboarding = ReturnType<typeof createOffboarding>;
