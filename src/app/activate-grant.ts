/**
 * The 'activate' job: puts a grant on its target. The grant is already 'activating' in the
 * database (intent before effect); this job is safe to run again after a crash at any step
 * because connectors are idempotent on the grant id.
 */
import { classifyTargetError } from '../core/errors.js';
import { backoffDelay } from '../core/retry.js';
import { generatePassword } from '../secrets/password.js';
import type { WorkItem } from '../scheduler/work-queue.js';
import type { WorkOutcome } from '../scheduler/scheduler.js';
import type { GrantRow } from '../store/schema.js';
import { acquireAccountLease, releaseAccountLease } from './account-lease.js';
import { systemActor, type AppDeps } from './deps.js';
import { applyGrantEvent, StaleGrantError } from './grant-transitions.js';
import { latestEnd, loadGrant, otherHolders } from './grant-queries.js';
import { getTarget, connectorFor } from './targets.js';
import { scheduleExpiryWarning } from './expiry-warning.js';
import { ownerFor } from './account-ownership.js';

/** Transient activation failures are retried this many times before the grant is given up. */
const maxActivationAttempts = 3;

export const credentialContext = (grantId: string) => `grant:${grantId}:credential`;

export function createActivateJob(deps: AppDeps) {
  return async function activate(item: WorkItem): Promise<WorkOutcome> {
    let grant = await loadGrant(deps.db, item.grantId);
    if (!grant) return { type: 'done' };
    if (grant.state === 'approved') {
      // A scheduled start has come: this run carries on with the activation itself.
      grant = await deps.db
        .transaction()
        .execute((tx) => applyGrantEvent(deps, tx, grant!, { type: 'start' }, systemActor, { runningWork: 'activate' }));
    }
    if (grant.state !== 'activating') return { type: 'done' };

    const leaseToken = `${deps.workerId}:activate:${grant.id}:${item.id}:${item.attempts}`;
    const now = deps.clock.now();
    if (!(await acquireAccountLease(deps.db, grant.jit_account_id, leaseToken, now))) {
      return { type: 'defer', at: new Date(now.getTime() + 100 + Math.random() * 200) };
    }
    try {
      return await activateHoldingLease(deps, grant, item);
    } finally {
      await releaseAccountLease(deps.db, grant.jit_account_id, leaseToken);
    }
  };
}

async function activateHoldingLease(deps: AppDeps, stale: GrantRow, item: WorkItem): Promise<WorkOutcome> {
  // Re-read under the lease: a revoke may have run while we waited.
  const grant = await loadGrant(deps.db, stale.id);
  if (!grant || grant.state !== 'activating') return { type: 'done' };
  const now = deps.clock.now();
  if (!grant.expires_at || now >= grant.expires_at) {
    await deps.db.transaction().execute((tx) =>
      applyGrantEvent(deps, tx, grant, { type: 'activation_failed', error: 'the grant ended before it could be activated' }, systemActor),
    );
    deps.poke();
    return { type: 'done' };
  }

  const target = await getTarget(deps, grant.tenant_id, grant.target_id);
  const account = await deps.db
    .selectFrom('jit_accounts')
    .innerJoin('operators', 'operators.id', 'jit_accounts.operator_id')
    .select(['jit_accounts.id', 'jit_accounts.username', 'jit_accounts.created_at', 'jit_accounts.last_grant_id', 'operators.display_name', 'operators.email'])
    .where('jit_accounts.id', '=', grant.jit_account_id)
    .executeTakeFirstOrThrow();
  const request = await deps.db
    .selectFrom('access_requests')
    .select(['reason', 'public_key'])
    .where('id', '=', grant.request_id)
    .executeTakeFirstOrThrow();
  const others = await otherHolders(deps.db, grant);
  const accountNotAfter = latestEnd([grant, ...others]) ?? grant.expires_at;

  const { definition, instance } = connectorFor(deps, target);
  const password = generatePassword(definition.passwordPolicy.length);
  // The marker the connector writes and checks: this JIT account of this installation, no other.
  const owner = await ownerFor(deps, target, account.username, account);
  let result;
  try {
    result = await deps.targetLimiter.run(target.id, () =>
      instance.grant(
        { log: deps.log },
        {
          grantId: grant.id,
          tenantId: grant.tenant_id,
          requester: { operatorId: grant.operator_id, email: account.email },
          startsAt: grant.starts_at ?? now,
          ...(request.public_key !== null ? { subjectPublicKey: request.public_key } : {}),
          account: { username: account.username, ownerDisplay: `${account.display_name} <${account.email}>`, owner },
          entitlements: grant.entitlements,
          notAfter: grant.expires_at!,
          accountNotAfter,
          reason: request.reason,
          password,
        },
      ),
    );
  } catch (err) {
    const e = classifyTargetError(err);
    deps.log.warn({ grant: grant.id, target: target.id, errorClass: e.errorClass, err: e.message }, 'activation failed');
    if (e.retryable && item.attempts < maxActivationAttempts) {
      await deps.db.updateTable('grants').set({ last_error: e.message }).where('id', '=', grant.id).execute();
      return { type: 'defer', at: new Date(now.getTime() + backoffDelay(deps.retry, item.attempts)), error: e.message };
    }
    if (e.refusal) {
      // Refused before the target changed anything: the grant ends 'failed', nothing to revoke.
      await deps.db.transaction().execute((tx) =>
        applyGrantEvent(deps, tx, grant, { type: 'activation_refused', error: e.message }, systemActor, {
          extra: { last_error: e.message },
        }),
      );
      deps.poke();
      return { type: 'done' };
    }
    // Give up and clean up whatever reached the target.
    await deps.db.transaction().execute((tx) =>
      applyGrantEvent(deps, tx, grant, { type: 'activation_failed', error: e.message }, systemActor, {
        extra: { last_error: e.message },
      }),
    );
    deps.poke();
    return { type: 'done' };
  }

  const handle = JSON.stringify({ username: account.username, entitlements: grant.entitlements, ...result.handle });
  const credential = result.credential
    ? deps.secrets.encrypt(JSON.stringify(result.credential), credentialContext(grant.id))
    : null;
  try {
    await deps.db.transaction().execute(async (tx) => {
      const active = await applyGrantEvent(deps, tx, grant, { type: 'activated' }, systemActor, {
        extra: { handle, credential_enc: credential, last_error: null },
      });
      await scheduleExpiryWarning(deps, tx, active);
      await tx
        .updateTable('jit_accounts')
        .set({ status: 'enabled', last_grant_id: grant.id, updated_at: deps.clock.now() })
        .where('id', '=', grant.jit_account_id)
        .execute();
    });
    const began = grant.starts_at ?? now;
    deps.metrics?.activated(target.kind, (deps.clock.now().getTime() - began.getTime()) / 1000);
  } catch (err) {
    if (!(err instanceof StaleGrantError)) throw err;
    // Revoked while we were granting: keep the real handle so the revocation removes everything.
    await deps.db.updateTable('grants').set({ handle }).where('id', '=', grant.id).execute();
  }
  deps.poke();
  return { type: 'done' };
}
