/**
 * Deleting a target. Refused while any of its grants is not over (pending, approved, scheduled,
 * active, or being revoked): those still need the target, to activate or to end; and while it
 * still holds JIT accounts (they would be left behind on the system: delete them first). A deleted target
 * is kept as a row marked deleted, so past grants, requests and the audit trail keep its name;
 * its name becomes free for a new target.
 */
import { finalStates } from '../core/lifecycle.js';
import { conflict } from '../core/errors.js';
import type { Actor, AppDeps } from './deps.js';
import { getTarget } from './targets.js';

export async function deleteTarget(deps: AppDeps, actor: Actor, tenantId: string, targetId: string): Promise<void> {
  const target = await getTarget(deps, tenantId, targetId);
  await deps.db.transaction().execute(async (tx) => {
    // One deletion at a time; the grants are counted inside the same transaction.
    await tx.selectFrom('targets').select('id').where('id', '=', target.id).forUpdate().executeTakeFirstOrThrow();
    const open = await tx
      .selectFrom('grants')
      .select(['state', (eb) => eb.fn.countAll<string>().as('n')])
      .where('target_id', '=', target.id)
      .where('state', 'not in', finalStates)
      .groupBy('state')
      .execute();
    if (open.length > 0) {
      const total = open.reduce((sum, r) => sum + Number(r.n), 0);
      const byState = open.map((r) => `${r.n} ${r.state.replace('_', ' ')}`).join(', ');
      throw conflict(
        `target "${target.name}" still has ${total} grant${total === 1 ? '' : 's'} that ${total === 1 ? 'is' : 'are'} not over (${byState}): revoke or deny them, or wait until they end, then delete it`,
        { openGrants: Object.fromEntries(open.map((r) => [r.state, Number(r.n)])) },
      );
    }
    const accounts = await tx
      .selectFrom('jit_accounts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('target_id', '=', target.id)
      .where('status', '<>', 'deleted')
      .executeTakeFirstOrThrow();
    if (Number(accounts.n) > 0) {
      throw conflict(
        `target "${target.name}" still has ${accounts.n} JIT account${accounts.n === '1' ? '' : 's'} on the system; delete ${accounts.n === '1' ? 'it' : 'them'} first (JIT accounts → Delete, or timebox jit-accounts delete), so none is left behind`,
        { jitAccounts: Number(accounts.n) },
      );
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
  await deps.connectors.forget(target.id);
}
