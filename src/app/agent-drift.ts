/**
 * Drift an agent found on its host (journal entries of event `drift`, drift-check.ts on the agent)
 * recorded like the reconciler's: `drift.detected` with the findings (kind, subject, expected,
 * actual), then `drift.repaired` when the agent undid it, or `drift.repair_failed` with a critical
 * drift alert (and its email) when it could not. The agent repairs on its own, with or without the
 * server; the server only records, once per entry: in the transaction that stores the entry (the
 * journal de-duplicates by entry id), so a drift is recorded exactly once.
 */
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { AgentRow } from '../store/schema-agents.js';
import type { JournalEntry } from '../agent-wire/protocol.js';
import { describeFindings } from '../core/findings.js';
import { systemActor, type AppDeps } from './deps.js';
import { raiseDriftAlert, resolveDriftAlerts } from './drift-alerts.js';

export async function recordAgentDrift(deps: AppDeps, tx: Transaction<Database>, agent: AgentRow, e: JournalEntry): Promise<void> {
  if (e.event !== 'drift' || !e.grantId) return;
  const findings = e.findings ?? [];
  const grant = await tx.selectFrom('grants').selectAll().where('id', '=', e.grantId).executeTakeFirst();
  // Only a grant of the agent's own tenant is ever touched by what an agent says.
  if (!grant || grant.tenant_id !== agent.tenant_id) return;
  const account = await tx.selectFrom('jit_accounts').selectAll().where('id', '=', grant.jit_account_id).executeTakeFirst();
  const target = await tx.selectFrom('targets').select(['id', 'name']).where('id', '=', grant.target_id).executeTakeFirst();
  if (!account || !target) return;
  const repaired = e.code === 'drift_repaired';
  const about = {
    targetId: target.id,
    username: account.username,
    live: grant.state === 'active',
    state: 'present',
    findings,
    agentId: agent.id,
    host: agent.hostname,
    foundAt: e.at,
  };
  const subject = { type: 'jit_account', id: account.id };
  const at = deps.clock.now();
  await deps.audit.append(tx, { tenantId: account.tenant_id, actor: systemActor, action: 'drift.detected', subject, after: about });
  if (repaired) {
    await deps.audit.append(tx, { tenantId: account.tenant_id, actor: systemActor, action: 'drift.repaired', subject, after: about });
    await resolveDriftAlerts(tx, [grant.id], at);
  } else {
    const failure = `the agent on ${agent.hostname} could not undo it`;
    await deps.audit.append(tx, { tenantId: account.tenant_id, actor: systemActor, action: 'drift.repair_failed', subject, reason: failure, after: about });
    await raiseDriftAlert(deps, tx, { actor: systemActor, account, targetName: target.name, grantId: grant.id, failure, findings, at });
  }
  deps.log.warn({ agent: agent.id, account: account.id, findings: describeFindings(findings), repaired }, 'an agent found drift on its host');
}
