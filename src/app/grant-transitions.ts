/**
 * Applies a lifecycle event to a stored grant: the pure transition decides, this persists it
 * with optimistic concurrency (version column) and records the effects and the audit event in
 * the same transaction, so state, schedule and audit never disagree. Steps that always follow each
 * other are written as one change (`applyGrantEvents`), and a new grant is stored in the state its
 * first steps give it (`insertGrant`): fewer statements, the same audit trail.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { transition, type GrantEvent, type GrantSnapshot, type GrantState, type WorkKind } from '../core/lifecycle.js';
import type { Database, GrantRow, NewGrant } from '../store/schema.js';
import { finishWrites, rescheduleWrites, type AccountUpdate, type WorkItem } from '../scheduler/work-queue.js';
import { type Write, writeTogether } from '../store/write-together.js';
import type { Actor, AppDeps } from './deps.js';
import { grantSummary, tenantAdmins } from './approvers.js';
import type { AuditInput } from '../audit/types.js';

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

export interface GrantEventOptions {
  reason?: string | null;
  extra?: Extra;
  now?: Date;
  /**
   * The scheduled work this call runs inside. An effect that schedules that same work for now
   * is what is already happening: applying it would release our own claim and let a second
   * run start beside this one.
   */
  runningWork?: WorkKind;
  /** Events of the same change written before the transition's own, in the same statement. */
  audit?: readonly AuditInput[];
  /**
   * The work item this change completes: finished last, with the account's new status and the
   * work the transition unschedules, in one statement (`finishWork`).
   */
  finish?: { item: WorkItem; account?: AccountUpdate | undefined };
  /**
   * Writes of the same change to other rows, in the grant's statement (before the grant's own
   * write when they cannot share it): a new grant's request and JIT account, which it
   * references; a revoked grant's alerts, resolved.
   */
  alongside?: readonly Write[];
}

export async function applyGrantEvent(
  deps: Pick<AppDeps, 'audit' | 'retry' | 'clock' | 'notifier'>,
  tx: Transaction<Database>,
  grant: GrantRow,
  event: GrantEvent,
  actor: Actor,
  opts: GrantEventOptions = {},
): Promise<GrantRow> {
  return applyGrantEvents(deps, tx, grant, [{ event, reason: opts.reason }], actor, opts);
}

/** One step of `applyGrantEvents`: the event and the reason its audit event gives. */
export interface GrantStep {
  event: GrantEvent;
  reason?: string | null | undefined;
  /** As `GrantEventOptions.runningWork`, for this step only (else the options' own). */
  runningWork?: WorkKind;
}

export type TransitionDeps = Pick<AppDeps, 'audit' | 'retry' | 'clock' | 'notifier'>;
type GrantIds = Pick<GrantRow, 'id' | 'tenant_id' | 'operator_id'>;

/** What the steps decide, before anything is written. */
export interface Plan {
  next: GrantSnapshot;
  /** Scheduled work by kind after all steps: the last step to touch a kind decides. */
  work: Map<WorkKind, Date | 'unschedule'>;
  alerts: Array<{ severity: 'warning' | 'critical'; message: string }>;
  events: AuditInput[];
}

export function plan(
  deps: TransitionDeps,
  ids: GrantIds,
  from: GrantSnapshot,
  steps: readonly GrantStep[],
  actor: Actor,
  now: Date,
  opts: Pick<GrantEventOptions, 'runningWork' | 'audit'>,
): Plan {
  const p: Plan = { next: from, work: new Map(), alerts: [], events: [...(opts.audit ?? [])] };
  for (const { event, reason, runningWork = opts.runningWork } of steps) {
    const before = p.next;
    const result = transition(before, event, now, { retry: deps.retry });
    if (!result.ok) throw new InvalidTransitionError(result.error);
    const next = result.grant;
    // Within a step, unscheduling comes after scheduling (as one step alone has always done it).
    for (const effect of result.effects) {
      if (effect.type === 'schedule' && !(effect.work === runningWork && effect.at <= now)) p.work.set(effect.work, effect.at);
    }
    // A step's alerts are told after the step itself: the trail reads cause, then alarm.
    const raised: AuditInput[] = [];
    for (const effect of result.effects) {
      if (effect.type === 'unschedule') p.work.set(effect.work, 'unschedule');
      else if (effect.type === 'alert') {
        p.alerts.push({ severity: effect.severity, message: effect.message });
        raised.push({
          tenantId: ids.tenant_id,
          actor,
          action: 'alert.raised',
          subject: { type: 'grant', id: ids.id },
          reason: effect.message,
          after: { severity: effect.severity },
        });
      }
    }
    if (next.state !== before.state || event.type === 'revoke_attempt_failed' || event.type === 'extend') {
      const action =
        event.type === 'revoke_attempt_failed' ? 'grant.revoke_attempt_failed' : event.type === 'extend' ? 'grant.extended' : `grant.${next.state}`;
      p.events.push({
        tenantId: ids.tenant_id,
        actor,
        action,
        subject: { type: 'grant', id: ids.id },
        reason: reason ?? eventReason(event) ?? next.endReason,
        before: { state: before.state, expiresAt: before.expiresAt?.toISOString() ?? null },
        after: {
          state: next.state,
          expiresAt: next.expiresAt?.toISOString() ?? null,
          ...(next.revokeAttempts !== before.revokeAttempts ? { revokeAttempts: next.revokeAttempts } : {}),
        },
      });
    }
    p.events.push(...raised);
    if (before.state === 'revoke_failed' && next.state === 'revoked') {
      // The critical alert raised when the revocation failed is resolved with this write
      // (revoke-grant.ts); the trail says so too.
      p.events.push({
        tenantId: ids.tenant_id,
        actor,
        action: 'alert.resolved',
        subject: { type: 'grant', id: ids.id },
        reason: 'the revocation succeeded after failed attempts',
        after: { severity: 'critical' },
      });
    }
    p.next = next;
  }
  return p;
}

/** The grant columns a planned state sets. */
function columnsOf(next: GrantSnapshot, now: Date) {
  return {
    state: next.state,
    starts_at: next.startsAt,
    expires_at: next.expiresAt,
    revoke_attempts: next.revokeAttempts,
    end_reason: next.endReason,
    updated_at: now,
    ...(next.state === 'revoked' ? { revoked_at: now } : {}),
    // A password not yet shown is erased the moment the grant stops being active: revealed while
    // it was revoking, or after a revocation failed, it would still open the account.
    ...(next.state === 'active' || next.state === 'activating' ? {} : { credential_enc: null }),
  };
}

/**
 * The plan's effects and audit events as writes (for `writeTogether`), and whether they can go in
 * one statement with the grant's own write: not when the plan raises alerts (they read around
 * the grant to notify people), nor when the finishing item's kind is scheduled again (the delete
 * and the upsert would touch the same row).
 */
function planWrites(
  deps: TransitionDeps,
  tx: Transaction<Database>,
  ids: GrantIds,
  p: Plan,
  now: Date,
  finish: GrantEventOptions['finish'],
): { writes: Write[]; together: boolean } {
  // Unscheduled kinds go in one statement (a revocation ends its revoke and expiry_warning items),
  // the finishing one when there is one.
  const unscheduled: WorkKind[] = [];
  const due: Array<{ kind: WorkKind; at: Date }> = [];
  for (const [kind, at] of p.work) {
    if (at === 'unschedule') unscheduled.push(kind);
    else due.push({ kind, at });
  }
  // With a finishing item, the unscheduling goes with it (finishWork); else with the scheduling.
  const writes = rescheduleWrites(tx, ids.id, due, finish ? [] : unscheduled, now);
  // Every event of the change in one statement, in the order the steps raised them.
  const audit = deps.audit.appendManyWrite(tx, p.events);
  if (audit) writes.push(audit);
  if (finish) writes.push(...finishWrites(tx, finish.item, finish.account, { grantId: ids.id, kinds: unscheduled }));
  const together = p.alerts.length === 0 && !(finish && due.some((d) => d.kind === finish.item.kind));
  return { writes, together };
}

/** Alerts the plan raises, each told to the grant's owner and the tenant's admins. */
async function writeAlerts(deps: TransitionDeps, tx: Transaction<Database>, stored: GrantRow, p: Plan, now: Date): Promise<void> {
  for (const alert of p.alerts) {
    await tx
      .insertInto('alerts')
      .values({
        id: randomUUID(),
        tenant_id: stored.tenant_id,
        grant_id: stored.id,
        severity: alert.severity,
        message: alert.message,
        created_at: now,
      })
      .execute();
    if (deps.notifier) {
      const people = new Set([stored.operator_id, ...(await tenantAdmins(tx, stored.tenant_id))]);
      await deps.notifier.enqueue(
        tx,
        stored.tenant_id,
        { type: 'revoke_failed', grant: await grantSummary(tx, stored), error: alert.message },
        { operatorIds: [...people] },
      );
    }
  }
}

/**
 * The grant's own write (returning its row) with the plan's writes: in one statement when they
 * allow it, else the grant first and the rest after (the alerts last of all). Either way inside
 * the caller's transaction: a stale grant (no row) throws and rolls back whatever went with it.
 */
async function writeGrantAndPlan(
  deps: TransitionDeps,
  tx: Transaction<Database>,
  grantWrite: Write,
  ids: GrantIds,
  p: Plan,
  now: Date,
  finish: GrantEventOptions['finish'],
  /** Writes of the same change to other rows (see GrantEventOptions.alongside), first. */
  alongside: readonly Write[] = [],
): Promise<GrantRow | undefined> {
  const { writes, together } = planWrites(deps, tx, ids, p, now, finish);
  if (together) return (await writeTogether<GrantRow>(tx, [...alongside, ...writes, grantWrite]))[0];
  for (const write of alongside) await writeTogether(tx, [write]);
  const [stored] = await writeTogether<GrantRow>(tx, [grantWrite]);
  if (!stored) return undefined;
  // One by one, in order: here two writes may touch the same row (a retry scheduled again as its
  // run finishes: the upsert releases the claim, so the finish's delete no longer matches it).
  for (const write of writes) await writeTogether(tx, [write]);
  await writeAlerts(deps, tx, stored, p, now);
  return stored;
}

/**
 * Several events applied one after the other (an expiring grant: expire, then revoked) and
 * written as one change: one update of the grant row, the merged effects on its scheduled work,
 * and every step's audit event, exactly as the steps one by one would leave them.
 */
export async function applyGrantEvents(
  deps: TransitionDeps,
  tx: Transaction<Database>,
  grant: GrantRow,
  steps: readonly GrantStep[],
  actor: Actor,
  opts: Omit<GrantEventOptions, 'reason'> = {},
): Promise<GrantRow> {
  const now = opts.now ?? deps.clock.now();
  const p = plan(deps, grant, toSnapshot(grant), steps, actor, now, opts);
  const update = tx
    .updateTable('grants')
    .set({ ...columnsOf(p.next, now), version: grant.version + 1, ...opts.extra })
    .where('id', '=', grant.id)
    .where('version', '=', grant.version)
    .returningAll();
  const updated = await writeGrantAndPlan(deps, tx, update, grant, p, now, opts.finish, opts.alongside);
  if (!updated) throw new StaleGrantError(grant.id);
  return updated;
}

/**
 * A new grant (`values`, in its first state) with the steps that follow at once (a request
 * approved by its policy: approve) applied before it is stored: one insert of the row as the
 * steps leave it, their effects and every audit event. Nothing can be scheduled for a grant that
 * did not exist, so there is nothing to unschedule.
 */
export async function insertGrant(
  deps: TransitionDeps,
  tx: Transaction<Database>,
  values: NewGrant,
  steps: readonly GrantStep[],
  actor: Actor,
  opts: Omit<GrantEventOptions, 'reason' | 'runningWork' | 'finish'> = {},
): Promise<GrantRow> {
  const now = opts.now ?? deps.clock.now();
  const from: GrantSnapshot = {
    state: values.state as GrantState,
    durationSeconds: values.duration_seconds,
    requestedStartAt: values.requested_start_at ?? null,
    pendingExpiresAt: values.pending_expires_at ?? null,
    startsAt: values.starts_at ?? null,
    expiresAt: values.expires_at ?? null,
    revokeAttempts: values.revoke_attempts ?? 0,
    endReason: values.end_reason ?? null,
  };
  const p = plan(deps, values, from, steps, actor, now, opts);
  for (const [kind, at] of p.work) if (at === 'unschedule') p.work.delete(kind);
  const insert = tx
    .insertInto('grants')
    .values({ ...values, ...(steps.length ? columnsOf(p.next, now) : {}), ...opts.extra })
    .returningAll();
  const stored = await writeGrantAndPlan(deps, tx, insert, values, p, now, undefined, opts.alongside);
  if (!stored) throw new Error(`grant ${values.id} was not stored`);
  return stored;
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
