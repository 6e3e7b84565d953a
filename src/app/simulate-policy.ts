/**
 * "What would happen if alice asked for Domain Admins on Saturday for 4 h?": the same policy
 * matching and evaluation as a real request, at a chosen time, writing nothing.
 */
import { AppError, notFound } from '../core/errors.js';
import { evaluateAsk, type Route } from '../core/policy-evaluation.js';
import { readRules } from '../core/policy-rules.js';
import type { AppDeps } from './deps.js';
import { approversAt } from './approvers.js';
import { groupsOf } from './operator-groups.js';
import { resolvePolicy } from './policies.js';
import { getTarget } from './targets.js';

export interface SimulationInput {
  operatorEmail: string;
  targetId: string;
  entitlements: string[];
  durationSeconds?: number;
  at?: Date;
  ticket?: string | null;
  emergency?: boolean;
  reason?: string;
}

export interface Simulation {
  policy: string | null;
  route: Route['kind'];
  refusals: string[];
  autoApprovedBy: string | null;
  approvalLevels: Array<{ level: number; quorum: number; approvers: string[] }>;
}

export async function simulatePolicy(deps: AppDeps, tenantId: string, input: SimulationInput): Promise<Simulation> {
  const person = await deps.db
    .selectFrom('operators')
    .innerJoin('memberships', 'memberships.operator_id', 'operators.id')
    .select(['operators.id', 'operators.email', 'memberships.roles'])
    .where('operators.email', '=', input.operatorEmail.trim().toLowerCase())
    .where('memberships.tenant_id', '=', tenantId)
    .executeTakeFirst();
  if (!person) throw notFound(`operator ${input.operatorEmail} in this tenant`);
  await getTarget(deps, tenantId, input.targetId);
  const groupIds = await groupsOf(deps.db, tenantId, person.id);
  let policy;
  try {
    policy = await resolvePolicy(deps, tenantId, {
      targetId: input.targetId, entitlements: input.entitlements, roles: person.roles, operatorId: person.id, groupIds, asker: person.email,
    });
  } catch (err) {
    if (err instanceof AppError && err.code !== 'not_found') {
      return { policy: null, route: 'refused', refusals: [err.message], autoApprovedBy: null, approvalLevels: [] };
    }
    throw err;
  }
  const rules = readRules(policy.rules);
  const at = input.at ?? deps.clock.now();
  const evaluation = evaluateAsk(
    { name: policy.name, maxDurationSeconds: policy.max_duration_seconds, reasonMinLength: policy.reason_min_length, rules },
    {
      durationSeconds: input.durationSeconds ?? policy.default_duration_seconds,
      // Without a reason given, assume one long enough: the question is about the rest.
      reason: input.reason ?? 'x'.repeat(policy.reason_min_length),
      ticket: input.ticket,
      emergency: input.emergency,
    },
    { now: at, requesterGroupIds: groupIds, openGrants: 0 },
  );
  const approvalLevels = [];
  if (evaluation.route.kind === 'approval') {
    for (const [i, level] of rules.approvalLevels.entries()) {
      const ids = (await approversAt(deps.db, tenantId, level)).filter((a) => a !== person.id);
      const emails = ids.length ? await deps.db.selectFrom('operators').select('email').where('id', 'in', ids).orderBy('email').execute() : [];
      approvalLevels.push({ level: i + 1, quorum: level.quorum, approvers: emails.map((e) => e.email) });
    }
  }
  return {
    policy: policy.name,
    route: evaluation.route.kind,
    refusals: evaluation.refusals,
    autoApprovedBy: evaluation.route.kind === 'auto' ? evaluation.route.rule : null,
    approvalLevels,
  };
}
