/** The 'expiry_warning' job: tells the owner a grant ends soon, so an extension can be asked in time. */
import { sql, type Transaction } from 'kysely';
import { DEFAULT_EXPIRY_WARNING_SECONDS } from '../notify/settings.js';
import { MIN_EXPIRY_WARNING_SECONDS } from '../api/endpoints/notifications.js';
import type { WorkItem } from '../scheduler/work-queue.js';
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
  const now = deps.clock.now();
  if (grant.expires_at.getTime() - now.getTime() <= MIN_EXPIRY_WARNING_SECONDS * 1000) return null;
  // The tenant's lead read and the item scheduled in one statement (as scheduleWork writes it):
  // an activation's transaction is on the hot path, and every statement there costs a round trip.
  const r = await sql<{ due_at: Date }>`
    INSERT INTO scheduled_work (kind, grant_id, due_at, created_at)
    SELECT 'expiry_warning', ${grant.id}::uuid, w.at, ${now}::timestamptz
    FROM (SELECT ${grant.expires_at}::timestamptz - make_interval(secs => coalesce(
            (SELECT expiry_warning_seconds FROM tenant_notification_settings WHERE tenant_id = ${grant.tenant_id}::uuid),
            ${DEFAULT_EXPIRY_WARNING_SECONDS}::int)) AS at) w
    WHERE w.at > ${now}::timestamptz
    ON CONFLICT (grant_id, kind) DO UPDATE SET due_at = excluded.due_at, locked_by = NULL, locked_until = NULL
    RETURNING due_at`.execute(tx);
  const due = r.rows[0]?.due_at;
  return due === undefined ? null : new Date(due);
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
