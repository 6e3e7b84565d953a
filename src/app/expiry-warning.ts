/** The 'expiry_warning' job: tells the owner a grant ends soon, so an extension can be asked in time. */
import type { Transaction } from 'kysely';
import { expiryWarningSeconds } from '../notify/settings.js';
import { MIN_EXPIRY_WARNING_SECONDS } from '../api/endpoints/notifications.js';
import type { WorkItem } from '../scheduler/work-queue.js';
import { scheduleWork } from '../scheduler/work-queue.js';
import type { WorkOutcome } from '../scheduler/scheduler.js';
import type { Database, GrantRow } from '../store/schema.js';
import type { AppDeps } from './deps.js';
import { grantSummary } from './approvers.js';
import { loadGrant } from './grant-queries.js';

/**
 * Called when a grant becomes active or its end moves; no warning for grants shorter than it.
 * Returns when the warning is due, if one was scheduled.
 */
export async function scheduleExpiryWarning(deps: AppDeps, tx: Transaction<Database>, grant: GrantRow): Promise<Date | null> {
  if (!deps.notifier || !grant.expires_at) return null;
  // Every lead is at least the settings' minimum: a grant ending sooner gets no warning, and its
  // activation need not read the tenant's settings.
  if (grant.expires_at.getTime() - deps.clock.now().getTime() <= MIN_EXPIRY_WARNING_SECONDS * 1000) return null;
  const lead = await expiryWarningSeconds(tx, grant.tenant_id);
  const at = new Date(grant.expires_at.getTime() - lead * 1000);
  if (at <= deps.clock.now()) return null;
  await scheduleWork(tx, grant.id, 'expiry_warning', at, deps.clock.now());
  return at;
}

export function createExpiryWarningJob(deps: AppDeps) {
  return async function expiryWarning(item: WorkItem): Promise<WorkOutcome> {
    const grant = await loadGrant(deps.db, item.grantId);
    if (!grant || grant.state !== 'active' || !grant.expires_at || !deps.notifier) return { type: 'done' };
    const minutesLeft = Math.max(0, Math.round((grant.expires_at.getTime() - deps.clock.now().getTime()) / 60_000));
    await deps.db.transaction().execute(async (tx) =>
      deps.notifier!.enqueue(tx, grant.tenant_id, { type: 'expiry_warning', grant: await grantSummary(tx, grant), minutesLeft }, { operatorIds: [grant.operator_id] }),
    );
    return { type: 'done' };
  };
}
