/**
 * The 'activate' job: puts a grant on its target. The grant is already 'activating' in the
 * database (intent before effect); this job is safe to run again after a crash at any step
 * because connectors are idempotent on the grant id.
 */
import { classifyTargetError } from '../core/errors.js';
import { backoffDelay } from '../core/retry.js';
import { generatePassword } from '../secrets/password.js';
import { finishWork, type WorkItem } from '../scheduler/work-queue.js';
import { forgetSeenEntitlements } from './entitlement-lookup.js';
import type { WorkOutcome } from '../scheduler/scheduler.js';
import type { GrantRow, TargetRow } from '../store/schema.js';
import { holdingStates } from '../core/lifecycle.js';
import { notFound } from '../core/errors.js';
import { systemActor, type AppDeps } from './deps.js';
import { applyGrantEvent, StaleGrantError } from './grant-transitions.js';
import { latestEnd, loadGrant } from './grant-queries.js';
import { connectorFor } from './targets.js';
import { scheduleExpiryWarning } from './expiry-warning.js';
import { ownerFor } from './account-ownership.js';
import { grantStandingProblem, standingReason } from './requester-standing.js';

/** Transient activation failures are retried this many times before the grant is given up. */
const maxActivationAttempts = 3;

export const credentialContext = (grantId: string) => `grant:${grantId}:credential`;

export function createActivateJob(deps: AppDeps) {
  return async function activate(item: WorkItem): Promise<WorkOutcome> {
    if (!item.accountLease) {
      // Another run holds this account (a revocation of an earlier grant, a rotation): come back.
      const grant = await loadGrant(deps.db, item.grantId);
      if (!grant || (grant.state !== 'approved' && grant.state !== 'activating')) return { type: 'done' };
      return { type: 'defer', at: new Date(deps.clock.now().getTime() + 100 + Math.random() * 200) };
    }
    // Read under the lease (taken with the claim): a revoke may have run while we waited.
    const read = await loadActivation(deps, item.grantId);
    if (!read) return { type: 'done' };
    let { grant } = read;
    if (grant.state === 'approved') {
      // A scheduled start has come. The owner must still be someone who may ask for this: a person
      // demoted, disabled or dropped from the policy since the approval gets nothing from it.
      const problem = await grantStandingProblem(deps.db, grant);
      if (problem) {
        const reason = `not started at its scheduled time: ${standingReason(problem)}`;
        await deps.db.transaction().execute((tx) => applyGrantEvent(deps, tx, read.grant, { type: 'cancel', reason }, systemActor, { finish: { item } }));
        deps.log.warn({ grant: grant.id, standing: problem.code }, 'scheduled grant not started: its owner may no longer ask for it');
        return { type: 'done', recorded: true };
      }
      // This run carries on with the activation itself.
      grant = await deps.db
        .transaction()
        .execute((tx) => applyGrantEvent(deps, tx, read.grant, { type: 'start' }, systemActor, { runningWork: 'activate' }));
    }
    if (grant.state !== 'activating') return { type: 'done' };
    return activateHoldingLease(deps, grant, read, item);
  };
}

/**
 * The grant with what its activation needs of its JIT account, owner, request and target, and the
 * latest end among the account's other holders: one query.
 */
async function loadActivation(deps: AppDeps, grantId: string) {
  const row = await deps.db
    .selectFrom('grants')
    .innerJoin('jit_accounts', 'jit_accounts.id', 'grants.jit_account_id')
    .innerJoin('operators', 'operators.id', 'jit_accounts.operator_id')
    .innerJoin('access_requests', 'access_requests.id', 'grants.request_id')
    .leftJoin('targets', (j) => j.onRef('targets.id', '=', 'grants.target_id').onRef('targets.tenant_id', '=', 'grants.tenant_id').on('targets.deleted_at', 'is', null))
    .selectAll('grants')
    .select([
      'jit_accounts.username as account_username',
      'jit_accounts.created_at as account_created_at',
      'jit_accounts.last_grant_id as account_last_grant_id',
      'jit_accounts.confirmed_at as account_confirmed_at',
      'jit_accounts.directory_object_id as account_directory_object_id',
      'operators.display_name as owner_display_name',
      'operators.email as owner_email',
      'access_requests.reason as request_reason',
      'access_requests.public_key as request_public_key',
      'targets.id as t_id',
      'targets.tenant_id as t_tenant_id',
      'targets.name as t_name',
      'targets.kind as t_kind',
      'targets.config_enc as t_config_enc',
      'targets.created_at as t_created_at',
      'targets.updated_at as t_updated_at',
      'targets.last_check_ok as t_last_check_ok',
      'targets.last_check_at as t_last_check_at',
      'targets.last_check as t_last_check',
      'targets.deleted_at as t_deleted_at',
    ])
    .select((eb) =>
      eb
        .selectFrom('grants as other')
        .select((o) => o.fn.max('other.expires_at').as('end'))
        .whereRef('other.jit_account_id', '=', 'grants.jit_account_id')
        .whereRef('other.id', '<>', 'grants.id')
        .where('other.state', 'in', [...holdingStates])
        .as('others_end'),
    )
    .where('grants.id', '=', grantId)
    .executeTakeFirst();
  if (!row) return undefined;
  const {
    account_username, account_created_at, account_last_grant_id, account_confirmed_at, account_directory_object_id, owner_display_name, owner_email, request_reason, request_public_key,
    t_id, t_tenant_id, t_name, t_kind, t_config_enc, t_created_at, t_updated_at, t_last_check_ok, t_last_check_at, t_last_check, t_deleted_at,
    others_end,
    ...grant
  } = row;
  const target: TargetRow | null =
    t_id === null || t_tenant_id === null || t_name === null || t_kind === null || t_config_enc === null || t_created_at === null || t_updated_at === null
      ? null
      : {
          id: t_id, tenant_id: t_tenant_id, name: t_name, kind: t_kind, config_enc: t_config_enc, created_at: t_created_at, updated_at: t_updated_at,
          last_check_ok: t_last_check_ok, last_check_at: t_last_check_at, last_check: t_last_check, deleted_at: t_deleted_at,
        };
  return {
    grant: grant as GrantRow,
    account: {
      id: grant.jit_account_id,
      username: account_username,
      created_at: account_created_at,
      last_grant_id: account_last_grant_id,
      confirmed_at: account_confirmed_at,
      directory_object_id: account_directory_object_id,
      display_name: owner_display_name,
      email: owner_email,
    },
    request: { reason: request_reason, public_key: request_public_key },
    target,
    /** The latest end of the account's other live grants (activating or active), if any. */
    othersEnd: others_end === null || others_end === undefined ? null : new Date(others_end as Date | string),
  };
}

type ActivationRead = NonNullable<Awaited<ReturnType<typeof loadActivation>>>;

async function activateHoldingLease(deps: AppDeps, grant: GrantRow, read: ActivationRead, item: WorkItem): Promise<WorkOutcome> {
  const { account, request } = read;
  const now = deps.clock.now();
  if (!grant.expires_at || now >= grant.expires_at) {
    await deps.db.transaction().execute(async (tx) => {
      await applyGrantEvent(deps, tx, grant, { type: 'activation_failed', error: 'the grant ended before it could be activated' }, systemActor);
      await finishWork(tx, item);
    });
    deps.poke();
    return { type: 'done', recorded: true };
  }

  if (!read.target) throw notFound(`target ${grant.target_id}`);
  const target = read.target;
  const accountNotAfter = latestEnd([grant, { expires_at: read.othersEnd }]) ?? grant.expires_at;

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
          account: {
            username: account.username,
            ownerDisplay: `${account.display_name} <${account.email}>`,
            owner,
            bindingConfirmed: account.confirmed_at !== null,
            ...(account.confirmed_at !== null && account.directory_object_id !== null ? { boundObjectId: account.directory_object_id } : {}),
          },
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
    // The target says an entitlement a request found is gone: the next request asks again.
    if (e.refusal === 'entitlement_missing') forgetSeenEntitlements(instance);
    if (e.retryable && item.attempts < maxActivationAttempts) {
      await deps.db.updateTable('grants').set({ last_error: e.message }).where('id', '=', grant.id).execute();
      return { type: 'defer', at: new Date(now.getTime() + backoffDelay(deps.retry, item.attempts)), error: e.message };
    }
    // Refused before the target changed anything: the grant ends 'failed', nothing to revoke.
    // Otherwise give up and clean up whatever reached the target.
    const event = e.refusal ? ({ type: 'activation_refused', error: e.message } as const) : ({ type: 'activation_failed', error: e.message } as const);
    await deps.db.transaction().execute(async (tx) => {
      await applyGrantEvent(deps, tx, grant, event, systemActor, { extra: { last_error: e.message } });
      await finishWork(tx, item);
      // The user confirmed is gone: so is the confirmation, until an administrator gives it again.
      if (e.refusal === 'account_replaced') {
        await tx.updateTable('jit_accounts').set({ confirmed_at: null, confirmed_by: null, directory_object_id: null }).where('id', '=', grant.jit_account_id).execute();
      }
    });
    deps.poke();
    return { type: 'done', recorded: true };
  }

  const handle = JSON.stringify({ username: account.username, entitlements: grant.entitlements, ...result.handle });
  const credential = result.credential
    ? deps.secrets.encrypt(JSON.stringify(result.credential), credentialContext(grant.id))
    : null;
  try {
    // The earliest work this activation schedules: the warning, else the revocation at the end.
    const firstDue = await deps.db.transaction().execute(async (tx) => {
      // The grant, its schedule and audit, the item, the account's new status and its lease: one
      // statement (write-together.ts); the warning's lead is the tenant's, read as it is written.
      const active = await applyGrantEvent(deps, tx, grant, { type: 'activated' }, systemActor, {
        extra: { handle, credential_enc: credential, last_error: null },
        finish: { item, account: { accountId: grant.jit_account_id, status: 'enabled', lastGrantId: grant.id, at: deps.clock.now() } },
      });
      // The first activation after a confirmation pins the object it was of.
      const objectGuid = typeof result.handle?.objectGuid === 'string' ? result.handle.objectGuid : null;
      if (objectGuid && account.confirmed_at !== null && account.directory_object_id === null) {
        await tx.updateTable('jit_accounts').set({ directory_object_id: objectGuid }).where('id', '=', grant.jit_account_id).where('directory_object_id', 'is', null).execute();
      }
      const warning = await scheduleExpiryWarning(deps, tx, active);
      // Activated past its end, the revocation is due now.
      return warning ?? (active.state === 'active' ? active.expires_at : now) ?? now;
    });
    const began = grant.starts_at ?? now;
    deps.metrics?.activated(target.kind, (deps.clock.now().getTime() - began.getTime()) / 1000);
    deps.poke(firstDue);
    return { type: 'done', recorded: true };
  } catch (err) {
    if (!(err instanceof StaleGrantError)) throw err;
    // Revoked while we were granting: keep the real handle so the revocation removes everything.
    await deps.db.updateTable('grants').set({ handle }).where('id', '=', grant.id).execute();
    deps.poke();
    return { type: 'done' };
  }
}
