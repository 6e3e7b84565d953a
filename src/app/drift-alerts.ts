/**
 * The reconciler's critical alerts for drift it could not repair: raised once per grant while
 * open (with an email to the account's owner and the tenant's admins), and resolved once the
 * account checks clean. They are told apart from other alerts by their kind, 'drift'.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { type Finding, describeFinding, describeFindings } from '../core/findings.js';
import type { Database, JitAccountRow } from '../store/schema.js';
import { grantSummary, tenantAdmins } from './approvers.js';
import type { Actor, AppDeps } from './deps.js';

type Db = Kysely<Database> | Transaction<Database>;

const DRIFT_ALERT = 'drift';

/** Grants (of this page) with an open drift alert: resolved once their account checks clean. */
export async function openDriftAlerts(deps: Pick<AppDeps, 'db'>, grantIds: string[]): Promise<Set<string>> {
  if (grantIds.length === 0) return new Set();
  const rows = await deps.db
    .selectFrom('alerts')
    .select('grant_id')
    .where('grant_id', 'in', grantIds)
    .where('resolved_at', 'is', null)
    .where('kind', '=', DRIFT_ALERT)
    .execute();
  return new Set(rows.map((r) => r.grant_id!));
}

export async function resolveDriftAlerts(db: Db, grantIds: string[], at: Date): Promise<void> {
  await db
    .updateTable('alerts')
    .set({ resolved_at: at })
    .where('grant_id', 'in', grantIds)
    .where('resolved_at', 'is', null)
    .where('kind', '=', DRIFT_ALERT)
    .execute();
}

/** In the transaction that records the failed repair; nothing more while one is already open. */
export async function raiseDriftAlert(
  deps: AppDeps,
  tx: Transaction<Database>,
  d: { actor: Actor; account: JitAccountRow; targetName: string; grantId: string; failure: string; findings: Finding[]; at: Date },
): Promise<void> {
  const { account } = d;
  const open = await tx
    .selectFrom('alerts')
    .select('id')
    .where('grant_id', '=', d.grantId)
    .where('resolved_at', 'is', null)
    .where('kind', '=', DRIFT_ALERT)
    .executeTakeFirst();
  if (open) return;
  const message = `Drift on JIT account ${account.username} (target ${d.targetName}) could not be repaired: ${d.failure}. Found: ${describeFindings(d.findings)}`.slice(0, 2000);
  await tx
    .insertInto('alerts')
    .values({ id: randomUUID(), tenant_id: account.tenant_id, grant_id: d.grantId, severity: 'critical', kind: DRIFT_ALERT, message, created_at: d.at })
    .execute();
  // The owner and the tenant's admins hear of it, not only the alerts page.
  const grant = deps.notifier ? await tx.selectFrom('grants').selectAll().where('id', '=', d.grantId).executeTakeFirst() : undefined;
  if (deps.notifier && grant) {
    await deps.notifier.enqueue(
      tx,
      account.tenant_id,
      { type: 'drift_unrepaired', grant: await grantSummary(tx, grant), account: account.username, error: d.failure.slice(0, 1000), findings: d.findings.slice(0, 20).map(describeFinding) },
      { operatorIds: [...new Set([account.operator_id, ...(await tenantAdmins(tx, account.tenant_id))])] },
    );
  }
  await deps.audit.append(tx, {
    tenantId: account.tenant_id,
    actor: d.actor,
    action: 'alert.raised',
    subject: { type: 'jit_account', id: account.id },
    reason: message,
    after: { severity: 'critical' },
  });
}
