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
import { UUID_RE } from './agent-auth.js';
import { raiseDriftAlert, resolveDriftAlerts } from './drift-alerts.js';

export async function recordAgentDrift(deps: AppDeps, tx: Transaction<Database>, agent: AgentRow, e: JournalEntry): Promise<void> {
  // An id that is not one (a buggy or hostile agent) names no grant: PostgreSQL would refuse the
  // comparison and the whole journal batch with it.
  if (e.event !== 'drift' || !e.grantId || !UUID_RE.test(e.grantId)) return;
  const findings = e.findings ?? [];
  // Only a grant this agent was given is ever touched by what it says: not another host's, even
  // in its own tenant (it would raise critical alerts about a target it never saw).
  const grant = await tx
    .selectFrom('grants')
    .innerJoin('agent_grants as ag', (j) => j.onRef('ag.grant_id', '=', 'grants.id').on('ag.agent_id', '=', agent.id))
    .selectAll('grants')
    .where('grants.id', '=', e.grantId)
    .executeTakeFirst();
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
