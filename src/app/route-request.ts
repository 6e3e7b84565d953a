/**
 * What happens to a new request, inside the transaction that writes it: approved at once (no
 * levels, or an explicit auto-approval rule), granted as break-glass (alert + review owed), or left
 * waiting for the first approval level (pending expiry scheduled, approvers told). The grant row
 * is written here, once, in the state its route gives it; the audit log still says every step.
 */
import { randomUUID } from 'node:crypto';
import { policyViolation } from '../core/errors.js';
import type { Transaction } from 'kysely';
import type { Route } from '../core/policy-evaluation.js';
import type { PolicyRules } from '../core/policy-rules.js';
import { scheduleWork } from '../scheduler/work-queue.js';
import type { AuditInput } from '../audit/types.js';
import type { Database, GrantRow, NewGrant } from '../store/schema.js';
import type { Write } from '../store/write-together.js';
import type { Actor, AppDeps } from './deps.js';
import { insertGrant } from './grant-transitions.js';
import { approversAt, summaryOf, tenantAdmins } from './approvers.js';

export async function routeRequest(
  deps: AppDeps,
  tx: Transaction<Database>,
  values: NewGrant,
  route: Route,
  rules: PolicyRules,
  policyName: string,
  actor: Actor,
  /**
   * What the request itself writes (its row, a new JIT account) and their events: in the grant's
   * statement, before the routing's own.
   */
  request: { audit: readonly AuditInput[]; writes: readonly Write[] },
  /** Who asked, on what target and why, for the messages (known to the caller: no read). */
  about: { requesterEmail: string; targetName: string; reason: string },
): Promise<GrantRow> {
  const system: Actor = { type: 'system', id: null };
  const { audit, writes: alongside } = request;
  if (route.kind === 'auto') {
    return insertGrant(deps, tx, values, [{ event: { type: 'approve' }, reason: `approved automatically by policy "${policyName}" (${route.rule})` }], system, { audit, alongside });
  }
  if (route.kind === 'break_glass') {
    const now = deps.clock.now();
    const active = await insertGrant(deps, tx, values, [{ event: { type: 'approve' }, reason: 'break-glass: emergency access without approval' }], actor, { audit, alongside });
    await tx.insertInto('reviews').values({ id: randomUUID(), tenant_id: active.tenant_id, grant_id: active.id, owed_since: now }).execute();
    await tx
      .insertInto('alerts')
      .values({
        id: randomUUID(),
        tenant_id: active.tenant_id,
        grant_id: active.id,
        severity: 'warning',
        message: 'break-glass access granted without approval; a review is owed',
        created_at: now,
      })
      .execute();
    await deps.audit.append(tx, {
      tenantId: active.tenant_id,
      actor,
      action: 'grant.break_glass',
      subject: { type: 'grant', id: active.id },
      reason: 'emergency access; review owed',
    });
    const everyone = new Set([...(await tenantAdmins(tx, active.tenant_id)), ...rules.approvalLevels.flatMap((l) => l.approverIds)]);
    for (const level of rules.approvalLevels) for (const id of await approversAt(tx, active.tenant_id, level)) everyone.add(id);
    everyone.delete(active.operator_id);
    await deps.notifier?.enqueue(tx, active.tenant_id, { type: 'break_glass', grant: summaryOf(active, about) }, { operatorIds: [...everyone] });
    return active;
  }
  if (route.kind === 'approval') {
    const now = deps.clock.now();
    // Everyone who may decide at each level now, the requester aside: a level whose quorum they
    // cannot reach would leave the request waiting for nobody until it expires. The first level's
    // are the ones asked now.
    let approvers: string[] = [];
    for (const [i, level] of rules.approvalLevels.entries()) {
      const able = (await approversAt(tx, values.tenant_id, level)).filter((a) => a !== values.operator_id);
      if (able.length < level.quorum) {
        const which = level.name ? `level ${i + 1} ("${level.name}")` : `level ${i + 1}`;
        throw policyViolation(
          `nobody can approve this request: policy "${policyName}" ${which} needs ${level.quorum} approval(s), and only ${able.length} of its approvers other than you can approve now; ask an administrator to fix the policy`,
        );
      }
      if (i === 0) approvers = able;
    }
    const first = rules.approvalLevels[0]!;
    const grant = await insertGrant(deps, tx, values, [], actor, {
      alongside,
      audit: [
        ...audit,
        {
          tenantId: values.tenant_id,
          actor: system,
          action: 'approval.requested',
          subject: { type: 'grant', id: values.id },
          after: { level: 1, quorum: first.quorum, approverIds: approvers },
        },
      ],
    });
    if (grant.pending_expires_at) await scheduleWork(tx, grant.id, 'pending_timeout', grant.pending_expires_at, now);
    await deps.notifier?.enqueue(
      tx,
      grant.tenant_id,
      { type: 'approval_requested', grant: summaryOf(grant, about), level: 1, quorum: first.quorum, approverIds: approvers },
      { operatorIds: approvers },
    );
    return grant;
  }
  throw new Error(`a refused request must not be routed (${policyName})`);
}
