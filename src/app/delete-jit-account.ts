/**
 * "Delete" from the JIT accounts menu: an account no grant holds is removed from its target and
 * from the list; the person can later create a fresh one (a new role, a new SID). The row stays,
 * marked deleted, because grants and the audit trail point at it.
 *
 * 'deleting' is recorded (with the live-grant check, under the row lock) before the target is
 * touched, so no request can enable the account meanwhile. A refused delete puts it back to
 * 'disabled'; one interrupted by a crash stays 'deleting' (nothing enabled) until deleted again.
 */
import { randomUUID } from 'node:crypto';
import { AppError, classifyTargetError, conflict, notFound } from '../core/errors.js';
import { can } from '../core/roles.js';
import { acquireAccountLease, releaseAccountLease } from './account-lease.js';
import type { Actor, AppDeps } from './deps.js';
import { handleOf } from './grant-queries.js';
import { findLiveAccount } from './jit-accounts.js';
import { connectorFor, getTarget } from './targets.js';
import { accountStatusOn, foreignConflict, ownerFor } from './account-ownership.js';

/** Grants in these states may still need the account (or are being taken off it). */
const BLOCKING = ['requested', 'approved', 'activating', 'active', 'revoking', 'revoke_failed'] as const;

export async function deleteJitAccount(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  viewer: { operatorId: string; roles: readonly string[] },
  accountId: string,
): Promise<void> {
  const account = await findLiveAccount(deps, tenantId, accountId);
  const mayDelete = account && (account.operator_id === viewer.operatorId || can(viewer.roles, 'grants.revoke_any'));
  if (!account || !mayDelete) throw notFound(`JIT account ${accountId}`);
  const target = await getTarget(deps, tenantId, account.target_id);
  const { definition, instance } = connectorFor(deps, target);
  // Kinds whose "account" is the person's own identity or an existing user: nothing to remove there.
  const onTarget = definition.capabilities.jitAccounts && definition.accountName !== 'requester';
  if (onTarget && !instance.deleteAccount) throw conflict(`${target.kind} targets cannot delete accounts`);

  // Whose is the account on the target? Another's is never removed. One this JIT account never
  // had there (its only activation was refused) leaves the target alone: only the row goes.
  let removeFromTarget = onTarget;
  const owner = await ownerFor(deps, target, account.username, account);
  if (onTarget) {
    const status = await accountStatusOn(deps, target, instance, account.username, owner);
    if (status.status === 'foreign') {
      if (account.last_grant_id !== null) throw foreignConflict(target, account.username, status);
      removeFromTarget = false;
    } else if (status.status === 'free' && instance.accountStatus) {
      removeFromTarget = false;
    }
  }

  const now = deps.clock.now();
  const lease = `${deps.workerId}:delete:${account.id}:${randomUUID()}`;
  if (!(await acquireAccountLease(deps.db, account.id, lease, now))) {
    throw conflict(`${account.username} is being changed right now (a grant is starting or ending); try again in a moment`);
  }
  try {
    const lastHandle = await deps.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('jit_accounts').selectAll().where('id', '=', account.id).forUpdate().executeTakeFirstOrThrow();
      if (row.status === 'deleted') return undefined;
      const live = await tx
        .selectFrom('grants')
        .select(['id', 'state'])
        .where('jit_account_id', '=', account.id)
        .where('state', 'in', BLOCKING)
        .executeTakeFirst();
      if (live) throw conflict(`${account.username} still has a ${live.state} grant (${live.id}); end it first, then delete the account`);
      await tx.updateTable('jit_accounts').set({ status: 'deleting', updated_at: now }).where('id', '=', account.id).execute();
      const last = row.last_grant_id
        ? await tx.selectFrom('grants').selectAll().where('id', '=', row.last_grant_id).executeTakeFirst()
        : undefined;
      return last?.handle ? handleOf(last) : null;
    });
    if (lastHandle === undefined) return;

    if (removeFromTarget) {
      try {
        await deps.targetLimiter.run(target.id, () => instance.deleteAccount!({ log: deps.log }, account.username, lastHandle, owner));
      } catch (err) {
        // Nothing was removed (or the target refused): the account is back to plain disabled.
        await deps.db.updateTable('jit_accounts').set({ status: 'disabled', updated_at: deps.clock.now() }).where('id', '=', account.id).execute();
        const e = classifyTargetError(err);
        const why = `the account could not be removed from ${target.name}: ${e.message}`;
        throw e.errorClass === 'invalid' ? conflict(why) : new AppError('target_error', `${why}; it stays disabled, try again`);
      }
    }
    await deps.db.transaction().execute(async (tx) => {
      await tx.updateTable('jit_accounts').set({ status: 'deleted', updated_at: deps.clock.now() }).where('id', '=', account.id).execute();
      await deps.audit.append(tx, {
        tenantId,
        actor,
        action: 'jit_account.deleted',
        subject: { type: 'jit_account', id: account.id },
        after: { username: account.username, targetId: target.id, operatorId: account.operator_id, removedFromTarget: removeFromTarget },
      });
    });
  } finally {
    await releaseAccountLease(deps.db, account.id, lease);
  }
}
