/**
 * The 'revoke' job: takes a grant away from its target when it expires or is ended early.
 * What other live grants of the same account still need is kept (holders are counted), and
 * the grant is 'revoked' only after the connector's verify finds nothing left.
 *
 * An expiring grant goes active -> revoking -> revoked (or -> revoke attempt failed) in ONE
 * transaction after the target call: the scheduled item is already the durable intent, and one
 * commit per expiry keeps mass expiry fast.
 */
import { classifyTargetError } from '../core/errors.js';
import type { TargetError } from '../core/errors.js';
import { describeFindings } from '../core/findings.js';
import type { GrantEvent } from '../core/lifecycle.js';
import { generatePassword } from '../secrets/password.js';
import type { WorkItem } from '../scheduler/work-queue.js';
import type { WorkOutcome } from '../scheduler/scheduler.js';
import type { Transaction } from 'kysely';
import type { Database, GrantRow } from '../store/schema.js';
import type { RevokeSpec } from '../connectors/contract.js';
import { acquireAccountLease, releaseAccountLease } from './account-lease.js';
import { systemActor, type AppDeps } from './deps.js';
import { applyGrantEvent, StaleGrantError } from './grant-transitions.js';
import { handleOf, latestEnd, loadGrant, otherHolders } from './grant-queries.js';
import { connectorFor, getTarget } from './targets.js';

const isDue = (g: GrantRow, now: Date) => g.state === 'active' && g.expires_at !== null && now >= g.expires_at;
const isRevoking = (g: GrantRow) => g.state === 'revoking' || g.state === 'revoke_failed';

export function createRevokeJob(deps: AppDeps) {
  return async function revoke(item: WorkItem): Promise<WorkOutcome> {
    const grant = await loadGrant(deps.db, item.grantId);
    if (!grant) return { type: 'done' };
    const now = deps.clock.now();
    if (grant.state === 'active' && !isDue(grant, now)) {
      // The end moved (extension): come back then.
      return grant.expires_at ? { type: 'defer', at: grant.expires_at } : { type: 'done' };
    }
    if (!isDue(grant, now) && !isRevoking(grant)) return { type: 'done' };

    // Unique per run: two runs must never mistake each other's lease for their own.
    const leaseToken = `${deps.workerId}:revoke:${grant.id}:${item.id}:${item.attempts}`;
    if (!(await acquireAccountLease(deps.db, grant.jit_account_id, leaseToken, now))) {
      return { type: 'defer', at: new Date(now.getTime() + 100 + Math.random() * 200) };
    }
    try {
      return await revokeHoldingLease(deps, grant.id);
    } finally {
      await releaseAccountLease(deps.db, grant.jit_account_id, leaseToken);
    }
  };
}

async function revokeHoldingLease(deps: AppDeps, grantId: string): Promise<WorkOutcome> {
  const grant = await loadGrant(deps.db, grantId);
  if (!grant || (!isDue(grant, deps.clock.now()) && !isRevoking(grant))) return { type: 'done' };
  const target = await getTarget(deps, grant.tenant_id, grant.target_id);
  if (grant.revoke_attempts > 0) deps.metrics?.revokeRetried(target.kind);
  const others = await otherHolders(deps.db, grant, deps.clock.now());
  const spec: RevokeSpec = {
    grantId: grant.id,
    tenantId: grant.tenant_id,
    handle: handleOf(grant),
    retain: [...new Set(others.flatMap((o) => o.entitlements))],
    accountStillNeededUntil: latestEnd(others),
    rotatePassword: generatePassword(32),
  };

  let failure: TargetError | null = null;
  try {
    const { instance } = connectorFor(deps, target);
    await deps.targetLimiter.run(target.id, async () => {
      await instance.revoke({ log: deps.log }, spec);
      const verified = await instance.verify({ log: deps.log }, spec);
      if (verified.state !== 'absent') {
        throw classifyTargetError(new Error(`verification after revoke found: ${describeFindings(verified.findings) || verified.state}`));
      }
    });
  } catch (err) {
    failure = classifyTargetError(err);
  }

  if (failure) {
    deps.log.warn({ grant: grant.id, target: target.id, errorClass: failure.errorClass, err: failure.message }, 'revocation attempt failed');
    deps.metrics?.revokeFailed(target.kind, failure.errorClass);
    const event: GrantEvent = { type: 'revoke_attempt_failed', error: failure.message, retryable: failure.retryable };
    await persist(deps, grant, async (g, tx) =>
      applyGrantEvent(deps, tx, g, event, systemActor, { extra: { last_error: failure!.message } }),
    );
    return { type: 'done' }; // the transition rescheduled the item (and cleared our claim on it)
  }

  await persist(deps, grant, async (g, tx) => {
    // The grant row first, then the JIT account: the order activation uses too, so a revocation
    // and an activation of the same grant cannot deadlock.
    const revoked = await applyGrantEvent(deps, tx, g, { type: 'revoked' }, systemActor, { reason: g.end_reason ?? 'expired', extra: { last_error: null } });
    await tx
      .updateTable('alerts')
      .set({ resolved_at: deps.clock.now() })
      .where('grant_id', '=', g.id)
      .where('resolved_at', 'is', null)
      .where('severity', '=', 'critical')
      .execute();
    if (others.length === 0) {
      await tx.updateTable('jit_accounts').set({ status: 'disabled', updated_at: deps.clock.now() }).where('id', '=', g.jit_account_id).execute();
    }
    return revoked;
  });
  deps.metrics?.revoked(target.kind, expiryLagSeconds(grant, deps.clock.now()));
  return { type: 'done' };
}

/** End to verified revocation, for grants that ran to their end (an early end has no lag). */
function expiryLagSeconds(g: GrantRow, revokedAt: Date): number | null {
  if (!g.expires_at || g.expires_at > revokedAt) return null;
  if (g.end_reason && g.end_reason !== 'expired') return null;
  return (revokedAt.getTime() - g.expires_at.getTime()) / 1000;
}

type Tx = Transaction<Database>;

/**
 * Runs `apply` in one transaction, first moving a due active grant to revoking in that same
 * transaction. On a concurrent update (a manual revoke racing the expiry) it reloads and retries once.
 */
async function persist(deps: AppDeps, grant: GrantRow, apply: (g: GrantRow, tx: Tx) => Promise<GrantRow>): Promise<void> {
  const run = (g: GrantRow) =>
    deps.db.transaction().execute(async (tx) => {
      let current = g;
      if (isDue(current, deps.clock.now())) {
        current = await applyGrantEvent(deps, tx, current, { type: 'expire' }, systemActor, { runningWork: 'revoke' });
      }
      return apply(current, tx);
    });
  try {
    await run(grant);
  } catch (err) {
    if (!(err instanceof StaleGrantError)) throw err;
    const fresh = await loadGrant(deps.db, grant.id);
    if (fresh && (isRevoking(fresh) || isDue(fresh, deps.clock.now()))) await run(fresh);
  }
}
