/**
 * Applies a lifecycle event to a stored grant: the pure transition decides, this persists it
 * with optimistic concurrency (version column) and records the effects and the audit event in
 * the same transaction, so state, schedule and audit never disagree.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { transition, type GrantEvent, type GrantSnapshot, type GrantState, type WorkKind } from '../core/lifecycle.js';
import type { Database, GrantRow } from '../store/schema.js';
import { scheduleWork, unscheduleWork } from '../scheduler/work-queue.js';
import type { Actor, AppDeps } from './deps.js';
import { grantSummary, tenantAdmins } from './approvers.js';

export class StaleGrantError extends Error {
  constructor(grantId: string) {
    super(`grant ${grantId} changed while it was being updated`);
    this.name = 'StaleGrantError';
  }
}

export class InvalidTransitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTransitionError';
  }
}

export function toSnapshot(g: GrantRow): GrantSnapshot {
  return {
    state: g.state as GrantState,
    durationSeconds: g.duration_seconds,
    requestedStartAt: g.requested_start_at,
    pendingExpiresAt: g.pending_expires_at,
    startsAt: g.starts_at,
    expiresAt: g.expires_at,
    revokeAttempts: g.revoke_attempts,
    endReason: g.end_reason,
  };
}

type Extra = Partial<Pick<GrantRow, 'last_error' | 'revoked_at' | 'extended_seconds' | 'approval_level'>> & {
  credential_enc?: string | null;
  handle?: string;
};

export async function applyGrantEvent(
  deps: Pick<AppDeps, 'audit' | 'retry' | 'clock' | 'notifier'>,
  tx: Transaction<Database>,
  grant: GrantRow,
  event: GrantEvent,
  actor: Actor,
  opts: {
    reason?: string | null;
    extra?: Extra;
    now?: Date;
    /**
     * The scheduled work this call runs inside. An effect that schedules that same work for now
     * is what is already happening: applying it would release our own claim and let a second
     * run start beside this one.
     */
    runningWork?: WorkKind;
  } = {},
): Promise<GrantRow> {
  const now = opts.now ?? deps.clock.now();
  const result = transition(toSnapshot(grant), event, now, { retry: deps.retry });
  if (!result.ok) throw new InvalidTransitionError(result.error);
  const next = result.grant;

  const updated = await tx
    .updateTable('grants')
    .set({
      state: next.state,
      version: grant.version + 1,
      starts_at: next.startsAt,
      expires_at: next.expiresAt,
      revoke_attempts: next.revokeAttempts,
      end_reason: next.endReason,
      updated_at: now,
      ...(next.state === 'revoked' ? { revoked_at: now, credential_enc: null } : {}),
      ...opts.extra,
    })
    .where('id', '=', grant.id)
    .where('version', '=', grant.version)
    .returningAll()
    .executeTakeFirst();
  if (!updated) throw new StaleGrantError(grant.id);

  // Unscheduled kinds go in one statement (a revocation ends its revoke and expiry_warning items).
  const unscheduled: WorkKind[] = [];
  for (const effect of result.effects) {
    if (effect.type === 'schedule') {
      if (effect.work === opts.runningWork && effect.at <= now) continue;
      await scheduleWork(tx, grant.id, effect.work, effect.at, now);
    }
    else if (effect.type === 'unschedule') unscheduled.push(effect.work);
    else {
      await tx
        .insertInto('alerts')
        .values({
          id: randomUUID(),
          tenant_id: grant.tenant_id,
          grant_id: grant.id,
          severity: effect.severity,
          message: effect.message,
          created_at: now,
        })
        .execute();
      if (deps.notifier) {
        const people = new Set([grant.operator_id, ...(await tenantAdmins(tx, grant.tenant_id))]);
        await deps.notifier.enqueue(
          tx,
          grant.tenant_id,
          { type: 'revoke_failed', grant: await grantSummary(tx, updated), error: effect.message },
          { operatorIds: [...people] },
        );
      }
      await deps.audit.append(tx, {
        tenantId: grant.tenant_id,
        actor,
        action: 'alert.raised',
        subject: { type: 'grant', id: grant.id },
        reason: effect.message,
        after: { severity: effect.severity },
      });
    }
  }
  if (unscheduled.length) await unscheduleWork(tx, grant.id, unscheduled);

  if (next.state !== grant.state || event.type === 'revoke_attempt_failed' || event.type === 'extend') {
    const action =
      event.type === 'revoke_attempt_failed' ? 'grant.revoke_attempt_failed' : event.type === 'extend' ? 'grant.extended' : `grant.${next.state}`;
    await deps.audit.append(tx, {
      tenantId: grant.tenant_id,
      actor,
      action,
      subject: { type: 'grant', id: grant.id },
      reason: opts.reason ?? eventReason(event) ?? next.endReason,
      before: { state: grant.state, expiresAt: grant.expires_at?.toISOString() ?? null },
      after: {
        state: next.state,
        expiresAt: next.expiresAt?.toISOString() ?? null,
        ...(next.revokeAttempts !== grant.revoke_attempts ? { revokeAttempts: next.revokeAttempts } : {}),
      },
    });
  }
  return updated;
}

function eventReason(e: GrantEvent): string | null {
  switch (e.type) {
    case 'deny':
    case 'cancel':
    case 'revoke':
      return e.reason;
    case 'activation_failed':
    case 'activation_refused':
    case 'revoke_attempt_failed':
      return e.error;
    default:
      return null;
  }
}
