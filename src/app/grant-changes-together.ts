/**
 * Many grants' changes written together: a burst of expiries revoked in one batch is one update
 * of the grant rows, one insert of every audit event and one statement that finishes the work
 * items and gives back the account leases, whatever the batch's size, all sent as one statement
 * (write-together.ts). Socket writes and round trips per statement are what a burst costs (not the
 * commit), so the batch writes one statement instead of three per grant. Each change is planned by the same pure transition as
 * `applyGrantEvents`, and the rows end exactly as one call per grant would leave them.
 *
 * Only plain changes go together: no alert raised and no work scheduled (a verified revocation).
 * Any other change is applied alone with `applyGrantEvents`, in the same transaction.
 */
import { sql, type Transaction } from 'kysely';
import type { Database, GrantRow } from '../store/schema.js';
import { finishTogetherWrites, type AccountUpdate, type WorkItem } from '../scheduler/work-queue.js';
import { type Write, writeTogether } from '../store/write-together.js';
import type { WorkKind } from '../core/lifecycle.js';
import type { Actor } from './deps.js';
import { applyGrantEvents, plan, StaleGrantError, toSnapshot, type GrantStep, type Plan, type TransitionDeps } from './grant-transitions.js';

export interface GrantChange {
  grant: GrantRow;
  steps: readonly GrantStep[];
  /** The grant's `last_error` afterwards; unchanged when absent. */
  lastError?: string | null;
  /** The work item the change completes, and what it writes on its leased account. */
  finish: { item: WorkItem; account?: AccountUpdate | undefined };
}

/** Applies every change in `tx`. A grant changed meanwhile throws StaleGrantError (nothing is kept). */
export async function applyGrantChangesTogether(
  deps: TransitionDeps,
  tx: Transaction<Database>,
  changes: readonly GrantChange[],
  actor: Actor,
  /** Writes of the same changes to other rows (alerts resolved), in the same statement. */
  alongside: readonly Write[] = [],
): Promise<void> {
  const now = deps.clock.now();
  const plain: Array<{ change: GrantChange; p: Plan; unscheduled: WorkKind[] }> = [];
  for (const change of changes) {
    const p = plan(deps, change.grant, toSnapshot(change.grant), change.steps, actor, now, {});
    const unscheduled = [...p.work].filter(([, at]) => at === 'unschedule').map(([kind]) => kind);
    const account = change.finish.account;
    const leaseFits = !account || (change.finish.item.accountLease?.accountId === account.accountId && account.lastGrantId === undefined);
    if (p.alerts.length === 0 && unscheduled.length === p.work.size && leaseFits) plain.push({ change, p, unscheduled });
    else {
      await applyGrantEvents(deps, tx, change.grant, change.steps, actor, {
        ...(change.lastError !== undefined ? { extra: { last_error: change.lastError } } : {}),
        finish: change.finish,
        now,
      });
    }
  }
  if (plain.length === 0) {
    if (alongside.length) await writeTogether(tx, alongside);
    return;
  }
  // Rows in id order, as every other writer of several grants takes them.
  plain.sort((a, b) => (a.change.grant.id < b.change.grant.id ? -1 : 1));
  const col = <T>(f: (x: (typeof plain)[number]) => T) => plain.map(f);
  const update = sql<{ id: string }>`
    UPDATE grants g SET
      state = v.state, starts_at = v.starts_at, expires_at = v.expires_at,
      revoke_attempts = v.revoke_attempts, end_reason = v.end_reason, updated_at = ${now},
      revoked_at = CASE WHEN v.state = 'revoked' THEN ${now} ELSE g.revoked_at END,
      credential_enc = CASE WHEN v.state IN ('active', 'activating') THEN g.credential_enc ELSE NULL END,
      last_error = CASE WHEN v.set_error THEN v.last_error ELSE g.last_error END,
      version = g.version + 1
    FROM unnest(
      ${col((x) => x.change.grant.id)}::uuid[], ${col((x) => x.change.grant.version)}::int[],
      ${col((x) => x.p.next.state)}::text[], ${col((x) => x.p.next.startsAt)}::timestamptz[],
      ${col((x) => x.p.next.expiresAt)}::timestamptz[], ${col((x) => x.p.next.revokeAttempts)}::int[],
      ${col((x) => x.p.next.endReason)}::text[], ${col((x) => x.change.lastError !== undefined)}::bool[],
      ${col((x) => x.change.lastError ?? null)}::text[]
    ) AS v(id, version, state, starts_at, expires_at, revoke_attempts, end_reason, set_error, last_error)
    WHERE g.id = v.id AND g.version = v.version
    RETURNING g.id`;
  // The audit events and the finished items with the grants' update, in one statement: they
  // touch different rows. A stale grant throws and the caller's transaction undoes them all.
  const audit = deps.audit.appendManyWrite(tx, plain.flatMap((x) => x.p.events));
  const finished = finishTogetherWrites(plain.map((x) => ({ item: x.change.finish.item, account: x.change.finish.account, unschedule: x.unscheduled })));
  const updated = await writeTogether<{ id: string }>(tx, [...alongside, ...(audit ? [audit] : []), ...finished, update]);
  if (updated.length !== plain.length) {
    const written = new Set(updated.map((r) => r.id));
    throw new StaleGrantError(plain.find((x) => !written.has(x.change.grant.id))!.change.grant.id);
  }
}
