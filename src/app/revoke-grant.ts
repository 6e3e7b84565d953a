/**
 * The 'revoke' job: takes a grant away from its target when it expires or is ended early.
 * What other live grants of the same account still need is kept (holders are counted), and
 * the grant is 'revoked' only after the connector's verify finds nothing left.
 *
 * An expiring grant goes active -> revoking -> revoked (or -> revoke attempt failed) in ONE
 * transaction after the target call (one update of its row, both audit events in one insert), which
 * also finishes the work item and gives back the account lease: the scheduled item is already the
 * durable intent.
 *
 * Revocations claimed together run together (`createRevokeBatchJob`): their grants with the other
 * holders of their accounts are read with one query, their targets with another, every grant is
 * revoked and then verified on its own, side by side within the per-target limit, and all outcomes
 * are written in one transaction, so a burst of expiries costs one commit per batch. A batch that meets a concurrent change (a manual
 * revoke racing the expiry) writes its grants one transaction each instead.
 */
import { classifyTargetError } from '../core/errors.js';
import type { TargetError } from '../core/errors.js';
import { describeFindings } from '../core/findings.js';
import { holdingStates } from '../core/lifecycle.js';
import { backoffDelay } from '../core/retry.js';
import { generatePassword } from '../secrets/password.js';
import { finishWork, type WorkItem } from '../scheduler/work-queue.js';
import type { WorkOutcome } from '../scheduler/scheduler.js';
import { sql, type Transaction } from 'kysely';
import type { Database, GrantRow, TargetRow } from '../store/schema.js';
import type { RevokeSpec } from '../connectors/contract.js';
import { systemActor, type AppDeps } from './deps.js';
import { applyGrantEvents, StaleGrantError, type GrantStep } from './grant-transitions.js';
import { applyGrantChangesTogether, type GrantChange } from './grant-changes-together.js';
import { handleOf, latestEnd, loadGrant } from './grant-queries.js';
import { connectorFor } from './targets.js';
import type { Write } from '../store/write-together.js';

const isDue = (g: GrantRow, now: Date) => g.state === 'active' && g.expires_at !== null && now >= g.expires_at;
const isRevoking = (g: GrantRow) => g.state === 'revoking' || g.state === 'revoke_failed';

/** One revocation: a batch of one. */
export function createRevokeJob(deps: AppDeps) {
  const batch = createRevokeBatchJob(deps);
  return async (item: WorkItem): Promise<WorkOutcome> => (await batch([item]))[0]!;
}

interface Run {
  index: number;
  item: WorkItem;
  grant: GrantRow;
  target: TargetRow;
  others: GrantRow[];
  failure: TargetError | null;
}

export function createRevokeBatchJob(deps: AppDeps) {
  return async function revokeBatch(items: WorkItem[]): Promise<WorkOutcome[]> {
    const outcomes: WorkOutcome[] = items.map(() => ({ type: 'done' }));
    // Read after the claim, which took the account leases (when free): a run that held an
    // account before has committed whatever it did to its grants.
    const now = deps.clock.now();
    const { grants, holders } = await loadGrantsAndHolders(deps, items.map((i) => i.grantId), now);
    const due: Array<{ index: number; item: WorkItem; grant: GrantRow }> = [];
    items.forEach((item, index) => {
      const grant = grants.get(item.grantId);
      if (!grant) return;
      if (grant.state === 'active' && !isDue(grant, now)) {
        // The end moved (extension): come back then.
        if (grant.expires_at) outcomes[index] = { type: 'defer', at: grant.expires_at };
        return;
      }
      if (!isDue(grant, now) && !isRevoking(grant)) return;
      if (!item.accountLease) {
        // Another run holds this account (an activation, a rotation, a reconcile): come back.
        outcomes[index] = { type: 'defer', at: new Date(now.getTime() + 100 + Math.random() * 200) };
        return;
      }
      due.push({ index, item, grant });
    });
    if (due.length === 0) return outcomes;

    const targets = await loadTargets(deps, due.map((d) => d.grant.target_id));
    const runs: Run[] = [];
    for (const d of due) {
      const target = targets.get(d.grant.target_id);
      if (!target || target.tenant_id !== d.grant.tenant_id) {
        const error = `target ${d.grant.target_id} not found`;
        deps.log.error({ grant: d.grant.id, target: d.grant.target_id }, 'revocation has no target');
        outcomes[d.index] = { type: 'defer', at: new Date(now.getTime() + backoffDelay(deps.retry, d.item.attempts)), error };
        continue;
      }
      const others = holders.filter((h) => h.jit_account_id === d.grant.jit_account_id && h.id !== d.grant.id);
      runs.push({ ...d, target, others, failure: null });
    }
    await Promise.all(runs.map(async (r) => (r.failure = await revokeOnTarget(deps, r))));
    await record(deps, runs);
    for (const r of runs) outcomes[r.index] = { type: 'done', recorded: true };
    return outcomes;
  };
}

/**
 * The batch's grants and, in the same read, every grant of their accounts that still holds (or is
 * about to hold) its entitlements past `now`: what a revocation must keep.
 */
async function loadGrantsAndHolders(deps: AppDeps, ids: string[], now: Date): Promise<{ grants: Map<string, GrantRow>; holders: GrantRow[] }> {
  // A union, not an OR: each half keeps its index (the primary key; the live grants by account,
  // a partial index whose states must be literals here: src/store/store-dialect.ts).
  const { rows } = await sql<GrantRow>`
    WITH batch AS (SELECT * FROM grants WHERE id IN (${sql.join(ids)}))
    SELECT * FROM batch
    UNION ALL
    SELECT g.* FROM grants g
    WHERE g.jit_account_id IN (SELECT jit_account_id FROM batch) AND g.id NOT IN (SELECT id FROM batch)
      AND g.state IN (${sql.join(holdingStates.map((s) => sql.lit(s)))}) AND (g.expires_at IS NULL OR g.expires_at > ${now})`.execute(deps.db);
  const wanted = new Set(ids);
  const holds = (g: GrantRow) => (holdingStates as readonly string[]).includes(g.state) && (g.expires_at === null || g.expires_at > now);
  return { grants: new Map(rows.filter((g) => wanted.has(g.id)).map((g) => [g.id, g])), holders: rows.filter(holds) };
}

async function loadTargets(deps: AppDeps, ids: string[]): Promise<Map<string, TargetRow>> {
  const rows = await deps.db.selectFrom('targets').selectAll().where('id', 'in', [...new Set(ids)]).where('deleted_at', 'is', null).execute();
  return new Map(rows.map((t) => [t.id, t]));
}

/** Revoke, then verify; the failure (if any) as data. */
async function revokeOnTarget(deps: AppDeps, r: Run): Promise<TargetError | null> {
  const { grant, target, others } = r;
  if (grant.revoke_attempts > 0) deps.metrics?.revokeRetried(target.kind);
  const spec: RevokeSpec = {
    grantId: grant.id,
    tenantId: grant.tenant_id,
    handle: handleOf(grant),
    retain: [...new Set(others.flatMap((o) => o.entitlements))],
    accountStillNeededUntil: latestEnd(others),
    rotatePassword: generatePassword(32),
  };
  try {
    const { instance } = connectorFor(deps, target);
    await deps.targetLimiter.run(target.id, async () => {
      await instance.revoke({ log: deps.log }, spec);
      const verified = await instance.verify({ log: deps.log }, spec);
      if (verified.state !== 'absent') {
        throw classifyTargetError(new Error(`verification after revoke found: ${describeFindings(verified.findings) || verified.state}`));
      }
    });
    return null;
  } catch (err) {
    const failure = classifyTargetError(err);
    deps.log.warn({ grant: grant.id, target: target.id, errorClass: failure.errorClass, err: failure.message }, 'revocation attempt failed');
    deps.metrics?.revokeFailed(target.kind, failure.errorClass);
    return failure;
  }
}

/** Writes every outcome: one transaction for the batch, or one per grant after a concurrent change. */
async function record(deps: AppDeps, runs: Run[]): Promise<void> {
  let together = runs.length > 1;
  if (together) {
    try {
      await deps.db.transaction().execute(async (tx) => {
        const resolved = resolveAlerts(deps, tx, runs.filter((r) => !r.failure).map((r) => r.grant.id));
        await applyGrantChangesTogether(deps, tx, runs.map((r) => changeOf(deps, r, r.grant)), systemActor, resolved);
      });
    } catch (err) {
      if (!(err instanceof StaleGrantError)) throw err;
      together = false;
    }
  }
  if (!together) for (const r of runs) await persist(deps, r);
  const now = deps.clock.now();
  for (const r of runs) if (!r.failure) deps.metrics?.revoked(r.target.kind, expiryLagSeconds(r.grant, now));
}

type Tx = Transaction<Database>;

/**
 * One grant's outcome: a due active grant moves to revoking and on to revoked (or the failed
 * attempt is counted and the item rescheduled, which clears our claim on it) as one change of the
 * grant row with both audit events; the work item is finished, the account disabled when no
 * other grant holds it and the lease given back, in one statement. The grant row first, then the
 * JIT account: the order activation uses too, so a revocation and an activation of the same grant
 * cannot deadlock.
 */
function changeOf(deps: AppDeps, r: Run, g: GrantRow): GrantChange {
  // The expiry schedules the revocation now: this very run, not a second one.
  const steps: GrantStep[] = isDue(g, deps.clock.now()) ? [{ event: { type: 'expire' }, runningWork: 'revoke' }] : [];
  if (r.failure) {
    steps.push({ event: { type: 'revoke_attempt_failed', error: r.failure.message, retryable: r.failure.retryable } });
    return { grant: g, steps, lastError: r.failure.message, finish: { item: r.item } };
  }
  // The end reason the revoking step leaves (an expiry sets "expired" unless one was given).
  steps.push({ event: { type: 'revoked' }, reason: g.end_reason ?? 'expired' });
  const account = r.others.length === 0 ? { accountId: g.jit_account_id, status: 'disabled' as const, at: deps.clock.now() } : undefined;
  return { grant: g, steps, lastError: null, finish: { item: r.item, account } };
}

/** One grant's outcome in the caller's transaction (a revoked grant's alerts resolved with it). */
async function recordOne(deps: AppDeps, tx: Tx, r: Run, g: GrantRow | undefined): Promise<void> {
  if (!g) {
    await finishWork(tx, r.item);
    return;
  }
  const c = changeOf(deps, r, g);
  const alongside = r.failure ? [] : resolveAlerts(deps, tx, [g.id]);
  await applyGrantEvents(deps, tx, g, c.steps, systemActor, { extra: { last_error: c.lastError ?? null }, finish: c.finish, alongside });
}

/**
 * A revoked grant's critical alerts (its failed attempts) resolved: one write for a batch, sent in
 * the statement of the grants' own writes.
 */
function resolveAlerts(deps: AppDeps, tx: Tx, grantIds: string[]): Write[] {
  if (grantIds.length === 0) return [];
  return [
    tx
      .updateTable('alerts')
      .set({ resolved_at: deps.clock.now() })
      .where('grant_id', 'in', grantIds)
      .where('resolved_at', 'is', null)
      .where('severity', '=', 'critical'),
  ];
}

/** One grant in its own transaction; on a concurrent update it reloads and retries once. */
async function persist(deps: AppDeps, r: Run): Promise<void> {
  const one = (g: GrantRow | undefined) => deps.db.transaction().execute((tx) => recordOne(deps, tx, r, g));
  try {
    await one(r.grant);
  } catch (err) {
    if (!(err instanceof StaleGrantError)) throw err;
    const fresh = await loadGrant(deps.db, r.grant.id);
    const still = fresh && (isRevoking(fresh) || isDue(fresh, deps.clock.now())) ? fresh : undefined;
    await one(still);
  }
}

/** End to verified revocation, for grants that ran to their end (an early end has no lag). */
function expiryLagSeconds(g: GrantRow, revokedAt: Date): number | null {
  if (!g.expires_at || g.expires_at > revokedAt) return null;
  if (g.end_reason && g.end_reason !== 'expired') return null;
  return (revokedAt.getTime() - g.expires_at.getTime()) / 1000;
}
