/** The 'pending_timeout' job: a request nobody approved in time expires. */
import type { WorkItem } from '../scheduler/work-queue.js';
import type { WorkOutcome } from '../scheduler/scheduler.js';
import { systemActor, type AppDeps } from './deps.js';
import { applyGrantEvent } from './grant-transitions.js';
import { loadGrant } from './grant-queries.js';

export function createPendingTimeoutJob(deps: AppDeps) {
  return async function pendingTimeout(item: WorkItem): Promise<WorkOutcome> {
    const grant = await loadGrant(deps.db, item.grantId);
    if (!grant || grant.state !== 'requested') return { type: 'done' };
    if (grant.pending_expires_at && deps.clock.now() < grant.pending_expires_at) {
      return { type: 'defer', at: grant.pending_expires_at };
    }
    await deps.db.transaction().execute((tx) => applyGrantEvent(deps, tx, grant, { type: 'pending_timeout' }, systemActor));
    return { type: 'done' };
  };
}
