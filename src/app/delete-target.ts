/**
 * Deleting a target. Refused while any grant on it is pending or live (revoking those depends on
 * the target) and while it still holds JIT accounts (they would be left behind on the system:
 * delete them first). The row is marked deleted, not removed, so grants, accounts and the audit
 * trail keep its name; it disappears from lists, requests and policies.
 */
import { conflict } from '../core/errors.js';
import type { Actor, AppDeps } from './deps.js';
import { getTarget } from './targets.js';

const NOT_ENDED = ['requested', 'approved', 'activating', 'active', 'revoking', 'revoke_failed'] as const;

export async function deleteTarget(deps: AppDeps, actor: Actor, tenantId: string, targetId: string): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    const target = await getTarget({ db: tx }, tenantId, targetId);
    // Locks the row: a request or grant started meanwhile reads the target first and waits here.
    await tx.selectFrom('targets').select('id').where('id', '=', target.id).forUpdate().execute();
    const grants = await tx
      .selectFrom('grants')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('target_id', '=', target.id)
      .where('state', 'in', NOT_ENDED)
      .executeTakeFirstOrThrow();
    if (Number(grants.n) > 0) {
      throw conflict(`${target.name} has ${grants.n} pending or live grant(s); revoke them or let them end, then delete it`);
    }
    const accounts = await tx
      .selectFrom('jit_accounts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('target_id', '=', target.id)
      .where('status', '<>', 'deleted')
      .executeTakeFirstOrThrow();
    if (Number(accounts.n) > 0) {
      throw conflict(`${target.name} still has ${accounts.n} JIT account(s) on the system; delete them first (jit-accounts delete), so none is left behind`);
    }
    const now = deps.clock.now();
    await tx.updateTable('targets').set({ deleted_at: now, updated_at: now }).where('id', '=', target.id).execute();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'target.deleted',
      subject: { type: 'target', id: target.id },
      before: { name: target.name, kind: target.kind },
    });
  });
}
