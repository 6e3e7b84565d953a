/**
 * "Rotate password" from the JIT accounts menu: the owner of an account enabled by a live grant
 * gets a fresh password, shown once; the old one stops working at once (a password that leaked
 * into a ticket or a screen share). Never stored: the grant's unrevealed credential is erased too,
 * since it no longer works.
 */
import { randomUUID } from 'node:crypto';
import { AppError, classifyTargetError, conflict, notFound } from '../core/errors.js';
import { readRules } from '../core/policy-rules.js';
import { requireFreshTotp } from '../auth/totp.js';
import { generatePassword } from '../secrets/password.js';
import { acquireAccountLease, releaseAccountLease } from './account-lease.js';
import type { Actor, AppDeps } from './deps.js';
import { handleOf } from './grant-queries.js';
import { findLiveAccount } from './jit-accounts.js';
import { connectDetails } from './connect-details.js';
import type { ConnectInfo } from '../core/connect-info.js';
import { connectorFor, getTarget } from './targets.js';
import { accountStatusOn, ensureNameUnclaimed, foreignConflict, ownerFor } from './account-ownership.js';

export interface RotatedPassword {
  accountId: string;
  grantId: string;
  username: string;
  password: string;
  /** Where and how to connect, and until when. */
  connect: ConnectInfo | null;
}

export async function rotateJitAccountPassword(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  ownerId: string,
  accountId: string,
  totp?: string,
): Promise<RotatedPassword> {
  const account = await findLiveAccount(deps, tenantId, accountId);
  // Only the owner: a password is shown to the one person it belongs to (others get a 404).
  if (!account || account.operator_id !== ownerId) throw notFound(`JIT account ${accountId}`);
  const target = await getTarget(deps, tenantId, account.target_id);
  const { definition, instance } = connectorFor(deps, target);
  if (!definition.capabilities.canRotate || !instance.rotate) {
    throw conflict(`passwords of ${target.kind} accounts cannot be rotated; end the grant and enable the account again for a new password`);
  }
  const grant = await deps.db
    .selectFrom('grants')
    .leftJoin('policies', 'policies.id', 'grants.policy_id')
    .selectAll('grants')
    .select('policies.rules')
    .where('grants.jit_account_id', '=', account.id)
    .where('grants.state', '=', 'active')
    .orderBy('grants.expires_at', 'desc')
    .executeTakeFirst();
  if (!grant) {
    throw conflict(`${account.username} is not enabled; its password was rotated to an unknown one when its last grant ended. Enable it again for a new password`);
  }
  // Same bar as showing the password in the first place.
  if (grant.rules && readRules(grant.rules).mfa.reveal) await requireFreshTotp(deps, ownerId, totp, 'reveal');

  // Only an account whose marker names this JIT account of this installation gets a new password.
  await ensureNameUnclaimed(deps, target, account.username, account);
  const owner = await ownerFor(deps, target, account.username, account);
  const status = await accountStatusOn(deps, target, instance, account.username, owner);
  if (status.status === 'foreign') throw foreignConflict(target, account.username, status);
  if (status.status === 'free' && instance.accountStatus) {
    throw conflict(`${account.username} does not exist on target "${target.name}" any more; end the grant and enable the account again`);
  }

  const now = deps.clock.now();
  const lease = `${deps.workerId}:rotate:${account.id}:${randomUUID()}`;
  if (!(await acquireAccountLease(deps.db, account.id, lease, now))) {
    throw conflict(`${account.username} is being changed right now (a grant is starting or ending); try again in a moment`);
  }
  try {
    const password = generatePassword(definition.passwordPolicy.length);
    try {
      await deps.targetLimiter.run(target.id, () => instance.rotate!({ log: deps.log }, handleOf(grant), password, owner));
    } catch (err) {
      const e = classifyTargetError(err);
      if (e.refusal === 'account_foreign') throw conflict(`the target refused the new password: ${e.message}`);
      throw new AppError('target_error', `the target did not take the new password: ${e.message}`);
    }
    await deps.db.transaction().execute(async (tx) => {
      await tx.updateTable('grants').set({ credential_enc: null, updated_at: now }).where('id', '=', grant.id).execute();
      await tx.updateTable('jit_accounts').set({ updated_at: now }).where('id', '=', account.id).execute();
      await deps.audit.append(tx, {
        tenantId,
        actor,
        action: 'jit_account.password_rotated',
        subject: { type: 'jit_account', id: account.id },
        after: { username: account.username, targetId: target.id, grantId: grant.id },
      });
    });
    const connect = await connectDetails(deps, tenantId, { targetId: target.id, username: account.username, expiresAt: grant.expires_at });
    return { accountId: account.id, grantId: grant.id, username: account.username, password, connect };
  } finally {
    await releaseAccountLease(deps.db, account.id, lease);
  }
}
