/**
 * Policies say who may ask for what, for how long: target/entitlement selection, requesters,
 * default and maximum duration, reason length, pending expiry and the workflow rules. Versioned:
 * an edit archives the old row and inserts its successor; removing archives.
 */
import { randomUUID } from 'node:crypto';
import { AppError, badRequest, notFound, policyViolation } from '../core/errors.js';
import { isRole } from '../core/roles.js';
import { policyRulesSchema, readRules, rulesProblems, type PolicyRules, type PolicyRulesInput } from '../core/policy-rules.js';
import { invalidFields } from '../core/zod-issues.js';
import type { PolicyRow } from '../store/schema.js';
import type { Actor, AppDeps } from './deps.js';
import { ableToApprove } from './approvers.js';
import { groupMembers } from './operator-groups.js';
import { gatewayOnlyProblem } from './gateway-only.js';
import { configContext } from './targets.js';

export interface PolicyInput {
  name: string;
  targetId?: string | null;
  entitlements?: string[] | null;
  requesterRoles: string[];
  maxDurationSeconds: number;
  defaultDurationSeconds: number;
  reasonMinLength?: number;
  pendingTtlSeconds?: number;
  rules?: PolicyRulesInput;
}

export interface PolicyView {
  id: string;
  name: string;
  targetId: string | null;
  entitlements: string[] | null;
  requesterRoles: string[];
  maxDurationSeconds: number;
  defaultDurationSeconds: number;
  reasonMinLength: number;
  pendingTtlSeconds: number;
  rules: PolicyRules;
  createdAt: Date;
}

export const toPolicyView = (p: PolicyRow): PolicyView => ({
  id: p.id,
  name: p.name,
  targetId: p.target_id,
  entitlements: p.entitlements,
  requesterRoles: p.requester_roles,
  maxDurationSeconds: p.max_duration_seconds,
  defaultDurationSeconds: p.default_duration_seconds,
  reasonMinLength: p.reason_min_length,
  pendingTtlSeconds: p.pending_ttl_seconds,
  rules: readRules(p.rules),
  createdAt: p.created_at,
});

/** Everything a policy must satisfy before it is saved; returns the parsed rules. */
async function checkedRules(deps: AppDeps, tenantId: string, input: PolicyInput): Promise<PolicyRules> {
  const badRoles = input.requesterRoles.filter((r) => !isRole(r));
  if (badRoles.length) throw badRequest(`unknown role(s): ${badRoles.join(', ')}`);
  const parsed = policyRulesSchema.safeParse(input.rules ?? {});
  if (!parsed.success) throw invalidFields('The policy rules are not valid.', parsed.error.issues, 'rules');
  const rules = parsed.data;
  if (input.requesterRoles.length + rules.requesterOperatorIds.length + rules.requesterGroupIds.length === 0) {
    throw badRequest('say who may request under this policy: requesterRoles, rules.requesterOperatorIds or rules.requesterGroupIds');
  }
  await checkRules(deps, tenantId, rules);
  if (input.defaultDurationSeconds > input.maxDurationSeconds) {
    throw badRequest('the default duration cannot be longer than the maximum duration');
  }
  if (input.targetId) {
    const t = await deps.db
      .selectFrom('targets')
      .select(['id', 'kind', 'config_enc'])
      .where('tenant_id', '=', tenantId)
      .where('id', '=', input.targetId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!t) throw notFound(`target ${input.targetId}`);
    // Names the target's kind could never have (a typo, a role name where a DN is due) make a
    // policy that allows nothing; said now rather than at the first request. Whether they exist
    // on the target is asked at each request, when the target is there to answer.
    const definition = deps.connectors.definition(t.kind);
    let stored: unknown;
    const storedConfig = () => (stored ??= JSON.parse(deps.secrets.decrypt(t.config_enc, configContext(t.id))));
    const badNames = [...new Set((input.entitlements ?? []).map((e) => definition?.validateEntitlementName(e)).filter((w): w is string => !!w))];
    if (badNames.length) throw badRequest(`invalid policy: ${badNames.join('; ')}`, { problems: badNames });
    const outOfScope = definition?.entitlementOutOfScope;
    if (outOfScope && input.entitlements?.length) {
      const config = definition.configSchema.safeParse(storedConfig());
      const problems = config.success ? [...new Set(input.entitlements.map((e) => outOfScope(config.data, e)).filter((w): w is string => !!w))] : [];
      if (problems.length) throw badRequest(`invalid policy: ${problems.join('; ')}`, { problems });
    }
    if (rules.gateway.only) {
      const why = gatewayOnlyProblem(t.kind, storedConfig);
      if (why) throw badRequest(`invalid policy: ${why}`, { problems: [why] });
    }
  } else if (rules.gateway.only) {
    throw badRequest('invalid policy: "gateway only" needs the policy to name its target (the gateway reaches one kind of target, whose password must not be e-mailed)');
  }
  return rules;
}

const rowValues = (id: string, tenantId: string, input: PolicyInput, rules: PolicyRules, now: Date) => ({
  id,
  tenant_id: tenantId,
  name: input.name,
  target_id: input.targetId ?? null,
  entitlements: input.entitlements ?? null,
  requester_roles: input.requesterRoles,
  max_duration_seconds: input.maxDurationSeconds,
  default_duration_seconds: input.defaultDurationSeconds,
  reason_min_length: input.reasonMinLength,
  pending_ttl_seconds: input.pendingTtlSeconds,
  rules: JSON.stringify(rules),
  created_at: now,
});

const auditView = (v: PolicyView) => ({ ...v, createdAt: v.createdAt.toISOString() });

async function nameTaken(deps: AppDeps, tenantId: string, name: string, except?: string): Promise<boolean> {
  let q = deps.db.selectFrom('policies').select('id').where('tenant_id', '=', tenantId).where('name', '=', name).where('archived_at', 'is', null);
  if (except) q = q.where('id', '<>', except);
  return (await q.executeTakeFirst()) !== undefined;
}

export async function createPolicy(deps: AppDeps, actor: Actor, tenantId: string, input: PolicyInput): Promise<PolicyView> {
  const rules = await checkedRules(deps, tenantId, input);
  if (await nameTaken(deps, tenantId, input.name)) throw new AppError('conflict', `a policy named "${input.name}" already exists`);
  const id = randomUUID();
  return deps.db.transaction().execute(async (tx) => {
    const row = await tx.insertInto('policies').values(rowValues(id, tenantId, input, rules, deps.clock.now())).returningAll().executeTakeFirstOrThrow();
    const view = toPolicyView(row);
    await deps.audit.append(tx, { tenantId, actor, action: 'policy.created', subject: { type: 'policy', id }, after: auditView(view) });
    return view;
  });
}

/**
 * An edit saves a new version (new id) and archives the old one: requests already pending and
 * grants already running keep the rules they were asked under; new requests get the new ones.
 */
export async function updatePolicy(deps: AppDeps, actor: Actor, tenantId: string, policyId: string, input: PolicyInput): Promise<PolicyView> {
  const stale = (name: string) => new AppError('conflict', `policy "${name}" was changed or removed meanwhile; reload and edit the current version`);
  const current = await deps.db.selectFrom('policies').select(['name', 'archived_at']).where('id', '=', policyId).where('tenant_id', '=', tenantId).executeTakeFirst();
  if (!current) throw notFound(`policy ${policyId}`);
  if (current.archived_at) throw stale(current.name);
  const rules = await checkedRules(deps, tenantId, input);
  if (await nameTaken(deps, tenantId, input.name, policyId)) throw new AppError('conflict', `a policy named "${input.name}" already exists`);
  const id = randomUUID();
  return deps.db.transaction().execute(async (tx) => {
    const old = await tx.selectFrom('policies').selectAll().where('id', '=', policyId).where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
    if (!old) throw notFound(`policy ${policyId}`);
    if (old.archived_at) throw stale(old.name);
    const now = deps.clock.now();
    // Archive first: the live-name index allows one live policy per name.
    await tx.updateTable('policies').set({ archived_at: now }).where('id', '=', policyId).execute();
    const row = await tx.insertInto('policies').values(rowValues(id, tenantId, input, rules, now)).returningAll().executeTakeFirstOrThrow();
    await tx.updateTable('policies').set({ replaced_by: id }).where('id', '=', policyId).execute();
    const view = toPolicyView(row);
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'policy.updated',
      subject: { type: 'policy', id },
      before: auditView(toPolicyView(old)),
      after: { ...auditView(view), previousId: policyId },
    });
    return view;
  });
}

/** Removed policies take no new requests; what is pending or running under them goes on. */
export async function removePolicy(deps: AppDeps, actor: Actor, tenantId: string, policyId: string): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    const old = await tx.selectFrom('policies').selectAll().where('id', '=', policyId).where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
    if (!old || old.archived_at) throw notFound(`policy ${policyId}`);
    await tx.updateTable('policies').set({ archived_at: deps.clock.now() }).where('id', '=', policyId).execute();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'policy.removed',
      subject: { type: 'policy', id: policyId },
      before: auditView(toPolicyView(old)),
    });
  });
}

export async function listPolicies(deps: Pick<AppDeps, 'db'>, tenantId: string): Promise<PolicyView[]> {
  const rows = await deps.db.selectFrom('policies').selectAll().where('tenant_id', '=', tenantId).where('archived_at', 'is', null).orderBy('name').execute();
  return rows.map(toPolicyView);
}

/** Referenced people and groups must exist in the tenant; the rules must make sense together. */
async function checkRules(deps: Pick<AppDeps, 'db' | 'clock'>, tenantId: string, rules: PolicyRules): Promise<void> {
  const groupIds = [
    ...rules.requesterGroupIds,
    ...rules.approvalLevels.flatMap((l) => l.groupIds),
    ...rules.autoApprove.flatMap((r) => r.requesterGroupIds ?? []),
  ];
  const members = await groupMembers(deps.db, tenantId, [...new Set(groupIds)]);
  const unknownGroups = [...new Set(groupIds)].filter((g) => !members.has(g));
  const people = [...new Set([...rules.requesterOperatorIds, ...rules.approvalLevels.flatMap((l) => l.approverIds)])];
  const known = people.length
    ? await deps.db.selectFrom('memberships').select('operator_id').where('tenant_id', '=', tenantId).where('operator_id', 'in', people).execute()
    : [];
  const unknownPeople = people.filter((p) => !known.some((k) => k.operator_id === p));
  const namedApprovers = [...new Set(rules.approvalLevels.flatMap((l) => l.approverIds))].filter((p) => !unknownPeople.includes(p));
  const able = await ableToApprove(deps.db, tenantId, namedApprovers);
  const cannotApprove = namedApprovers.filter((p) => !able.has(p));
  const problems = [
    ...(cannotApprove.length ? [`approvers whose role here cannot approve (give them the approver role first): ${cannotApprove.join(', ')}`] : []),
    ...(unknownGroups.length ? [`unknown operator group(s): ${unknownGroups.join(', ')}`] : []),
    ...(unknownPeople.length ? [`not members of this tenant: ${unknownPeople.join(', ')}`] : []),
    ...rulesProblems(rules, deps.clock.now(), members),
  ];
  if (problems.length) throw badRequest(`invalid policy: ${[...new Set(problems)].join('; ')}`, { problems });
}

/** What of a policy decides whom and what it covers. */
export type PolicyTerms = Pick<PolicyRow, 'name' | 'target_id' | 'entitlements' | 'requester_roles' | 'rules'>;

/** Pure: does this policy cover this ask? Returns why not, or null. */
export function policyMismatch(
  p: PolicyTerms,
  ask: { targetId: string; entitlements: string[]; roles: readonly string[]; operatorId?: string; groupIds?: readonly string[]; asker?: string },
): string | null {
  if (p.target_id && p.target_id !== ask.targetId) return `policy "${p.name}" does not cover this target`;
  if (p.entitlements) {
    const outside = ask.entitlements.filter((e) => !p.entitlements!.includes(e));
    if (outside.length) return `policy "${p.name}" does not allow ${outside.join(', ')}`;
  }
  const rules = readRules(p.rules);
  const byRole = ask.roles.some((r) => p.requester_roles.includes(r));
  const byPerson = ask.operatorId !== undefined && rules.requesterOperatorIds.includes(ask.operatorId);
  const byGroup = (ask.groupIds ?? []).some((g) => rules.requesterGroupIds.includes(g));
  if (!byRole && !byPerson && !byGroup) return `policy "${p.name}" does not list ${ask.asker ?? 'you'} among its requesters`;
  return null;
}

/** The named policy if it applies, else the most specific one that does. */
export async function resolvePolicy(
  deps: Pick<AppDeps, 'db'>,
  tenantId: string,
  ask: {
    policyId?: string | null;
    targetId: string;
    entitlements: string[];
    roles: readonly string[];
    operatorId?: string;
    groupIds?: readonly string[];
    /** Who asks, in the refusal: "you" unless someone asks on another's behalf (the simulator). */
    asker?: string;
  },
): Promise<PolicyRow> {
  const rows = await deps.db.selectFrom('policies').selectAll().where('tenant_id', '=', tenantId).where('archived_at', 'is', null).execute();
  if (ask.policyId) {
    const p = rows.find((r) => r.id === ask.policyId);
    if (!p) {
      const old = await deps.db.selectFrom('policies').select('name').where('id', '=', ask.policyId).where('tenant_id', '=', tenantId).executeTakeFirst();
      if (old) throw policyViolation(`policy "${old.name}" was changed or removed since you picked it; choose a policy again`);
      throw notFound(`policy ${ask.policyId}`);
    }
    const why = policyMismatch(p, ask);
    if (why) throw policyViolation(why);
    return p;
  }
  const fitting = rows
    .filter((p) => policyMismatch(p, ask) === null)
    .sort((a, b) => specificity(b) - specificity(a) || a.name.localeCompare(b.name));
  const chosen = fitting[0];
  if (!chosen) {
    throw policyViolation(
      rows.length === 0
        ? 'no access policy exists in this tenant yet; an admin must create one first'
        : `no policy allows ${ask.asker ?? 'you'} to request these entitlements on this target`,
    );
  }
  return chosen;
}

const specificity = (p: PolicyRow) => (p.target_id ? 2 : 0) + (p.entitlements ? 1 : 0);
