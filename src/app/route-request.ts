/**
 * What happens to a new request once it is written, inside the same transaction: approved at
 * once (no levels, or an explicit auto-approval rule), granted as break-glass (alert + review
 * owed), or left waiting for the first approval level (pending expiry scheduled, approvers told).
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Route } from '../core/policy-evaluation.js';
import type { PolicyRules } from '../core/policy-rules.js';
import { scheduleWork } from '../scheduler/work-queue.js';
import type { Database, GrantRow } from '../store/schema.js';
import type { Actor, AppDeps } from './deps.js';
import { applyGrantEvent } from './grant-transitions.js';
import { approversAt, grantSummary, tenantAdmins } from './approvers.js';

export async function routeRequest(
  deps: AppDeps,
  tx: Transaction<Database>,
  grant: GrantRow,
  route: Route,
  rules: PolicyRules,
  policyName: string,
  actor: Actor,
): Promise<GrantRow> {
  const system: Actor = { type: 'system', id: null };
  if (route.kind === 'auto') {
    return applyGrantEvent(deps, tx, grant, { type: 'approve' }, system, {
      reason: `approved automatically by policy "${policyName}" (${route.rule})`,
    });
  }
  if (route.kind === 'break_glass') {
    const now = deps.clock.now();
    const active = await applyGrantEvent(deps, tx, grant, { type: 'approve' }, actor, { reason: 'break-glass: emergency access without approval' });
    await tx.insertInto('reviews').values({ id: randomUUID(), tenant_id: grant.tenant_id, grant_id: grant.id, owed_since: now }).execute();
    await tx
      .insertInto('alerts')
      .values({
        id: randomUUID(),
        tenant_id: grant.tenant_id,
        grant_id: grant.id,
        severity: 'warning',
        message: 'break-glass access granted without approval; a review is owed',
        created_at: now,
      })
      .execute();
    await deps.audit.append(tx, {
      tenantId: grant.tenant_id,
      actor,
      action: 'grant.break_glass',
      subject: { type: 'grant', id: grant.id },
      reason: 'emergency access; review owed',
    });
    const everyone = new Set([...(await tenantAdmins(tx, grant.tenant_id)), ...rules.approvalLevels.flatMap((l) => l.approverIds)]);
    for (const level of rules.approvalLevels) for (const id of await approversAt(tx, grant.tenant_id, level)) everyone.add(id);
    everyone.delete(grant.operator_id);
    await deps.notifier?.enqueue(tx, grant.tenant_id, { type: 'break_glass', grant: await grantSummary(tx, grant) }, { operatorIds: [...everyone] });
    return active;
  }
  if (route.kind === 'approval') {
    const now = deps.clock.now();
    if (grant.pending_expires_at) await scheduleWork(tx, grant.id, 'pending_timeout', grant.pending_expires_at, now);
    const first = rules.approvalLevels[0]!;
    const approvers = (await approversAt(tx, grant.tenant_id, first)).filter((a) => a !== grant.operator_id);
    await deps.audit.append(tx, {
      tenantId: grant.tenant_id,
      actor: system,
      action: 'approval.requested',
      subject: { type: 'grant', id: grant.id },
      after: { level: 1, quorum: first.quorum, approverIds: approvers },
    });
    await deps.notifier?.enqueue(
      tx,
      grant.tenant_id,
      { type: 'approval_requested', grant: await grantSummary(tx, grant), level: 1, quorum: first.quorum, approverIds: approvers },
      { operatorIds: approvers },
    );
    return grant;
  }
  throw new Error(`a refused request must not be routed (${policyName})`);
}
