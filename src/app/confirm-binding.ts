/**
 * An administrator confirms that an existing user is the person's own. On the kinds that bind a
 * person to a user they did not create (EXISTING_USER_KINDS) the person names that user at their
 * first request, and nothing proves it is theirs:
 * - linux-agent-users: a grant only adds groups or a sudo rule to the host user, but the gateway
 *   logs in as it with a certificate, a shell as whoever the name belongs to; the gateway waits
 *   for this confirmation.
 * - active-directory-groups: a grant puts the user in privileged groups; it is activated only for
 *   a user whose userPrincipalName is the person's address, or after this confirmation.
 * Given by someone other than the person (nobody approves their own access); a new binding (after
 * a delete) needs a new one.
 */
import { badRequest, forbidden, notFound } from '../core/errors.js';
import { can } from '../core/roles.js';
import { EXISTING_USER_KINDS, bindsExistingUser } from '../core/target-kinds.js';
import type { Actor, AppDeps } from './deps.js';

export async function confirmBinding(
  deps: Pick<AppDeps, 'db' | 'audit' | 'clock'>,
  actor: Actor,
  tenantId: string,
  viewer: { operatorId: string; roles: readonly string[] },
  accountId: string,
): Promise<{ confirmedAt: Date }> {
  if (!can(viewer.roles, 'targets.manage')) throw forbidden('only an administrator of the tenant confirms whose user a binding is');
  return deps.db.transaction().execute(async (tx) => {
    const account = await tx
      .selectFrom('jit_accounts')
      .innerJoin('targets', 'targets.id', 'jit_accounts.target_id')
      .select(['jit_accounts.id', 'jit_accounts.username', 'jit_accounts.operator_id', 'jit_accounts.target_id', 'jit_accounts.confirmed_at', 'targets.kind'])
      .where('jit_accounts.id', '=', accountId)
      .where('jit_accounts.tenant_id', '=', tenantId)
      .where('jit_accounts.status', '<>', 'deleted')
      .forUpdate('jit_accounts')
      .executeTakeFirst();
    if (!account) throw notFound(`JIT account ${accountId}`);
    if (!bindsExistingUser(account.kind)) {
      throw badRequest(`only a binding to a user that already existed (${EXISTING_USER_KINDS.join(', ')}) is confirmed; Timebox made this account itself`);
    }
    if (account.operator_id === viewer.operatorId) throw forbidden('another administrator confirms your own binding: nobody approves their own access');
    if (account.confirmed_at) return { confirmedAt: account.confirmed_at };
    const now = deps.clock.now();
    await tx.updateTable('jit_accounts').set({ confirmed_at: now, confirmed_by: viewer.operatorId }).where('id', '=', account.id).execute();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'jit_account.binding_confirmed',
      subject: { type: 'jit_account', id: account.id },
      after: { username: account.username, targetId: account.target_id, operatorId: account.operator_id },
    });
    return { confirmedAt: now };
  });
}
