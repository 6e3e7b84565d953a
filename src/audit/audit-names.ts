/**
 * The names behind the ids of audit events, for people reading the list: who acted, whose access
 * it was, on which target and account. Resolved for a whole page at once, one query per kind of
 * thing named (never one per event); ids stay in the events, names that no longer resolve are null.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { ChainedAuditRecord } from './audit-log.js';

export interface AuditNames {
  /** The acting operator's email. */
  actor: string | null;
  /** The person the subject concerns: the grant's or JIT account's owner, or the operator acted on. */
  person: string | null;
  target: string | null;
  /** The account name on the target (a grant's or JIT account's username). */
  account: string | null;
  /** The subject's own name when it has one (a policy, a group, a target, an operator). */
  subject: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Event = Pick<ChainedAuditRecord, 'actor_type' | 'actor_id' | 'subject_type' | 'subject_id'>;

const idsOf = (events: readonly Event[], pick: (e: Event) => string | null | undefined): string[] => [
  ...new Set(events.map(pick).filter((id): id is string => !!id && UUID.test(id))),
];

export async function auditNames(db: Kysely<Database>, tenantId: string, events: readonly Event[]): Promise<AuditNames[]> {
  const subjectIds = (type: string) => idsOf(events, (e) => (e.subject_type === type ? e.subject_id : null));
  const operatorIds = [...new Set([...idsOf(events, (e) => (e.actor_type === 'operator' ? e.actor_id : null)), ...subjectIds('operator')])];
  const grantIds = subjectIds('grant');
  const accountIds = subjectIds('jit_account');
  const targetIds = subjectIds('target');
  const policyIds = subjectIds('policy');
  const groupIds = subjectIds('group');

  const [operators, grants, accounts, targets, policies, groups] = await Promise.all([
    operatorIds.length ? db.selectFrom('operators').select(['id', 'email']).where('id', 'in', operatorIds).execute() : [],
    grantIds.length
      ? db
          .selectFrom('grants as g')
          .innerJoin('jit_accounts as a', 'a.id', 'g.jit_account_id')
          .innerJoin('targets as t', 't.id', 'g.target_id')
          .innerJoin('operators as o', 'o.id', 'g.operator_id')
          .select(['g.id', 'a.username', 't.name as target', 'o.email'])
          .where('g.tenant_id', '=', tenantId)
          .where('g.id', 'in', grantIds)
          .execute()
      : [],
    accountIds.length
      ? db
          .selectFrom('jit_accounts as a')
          .innerJoin('targets as t', 't.id', 'a.target_id')
          .innerJoin('operators as o', 'o.id', 'a.operator_id')
          .select(['a.id', 'a.username', 't.name as target', 'o.email'])
          .where('a.tenant_id', '=', tenantId)
          .where('a.id', 'in', accountIds)
          .execute()
      : [],
    targetIds.length ? db.selectFrom('targets').select(['id', 'name']).where('tenant_id', '=', tenantId).where('id', 'in', targetIds).execute() : [],
    policyIds.length ? db.selectFrom('policies').select(['id', 'name']).where('tenant_id', '=', tenantId).where('id', 'in', policyIds).execute() : [],
    groupIds.length ? db.selectFrom('operator_groups').select(['id', 'name']).where('tenant_id', '=', tenantId).where('id', 'in', groupIds).execute() : [],
  ]);

  const email = new Map(operators.map((o) => [o.id, o.email]));
  const grant = new Map(grants.map((g) => [g.id, g]));
  const account = new Map(accounts.map((a) => [a.id, a]));
  const named = new Map([...targets, ...policies, ...groups].map((x) => [x.id, x.name]));

  return events.map((e) => {
    const actor = e.actor_type === 'operator' && e.actor_id ? (email.get(e.actor_id) ?? null) : null;
    const id = e.subject_id ?? '';
    const access = e.subject_type === 'grant' ? grant.get(id) : e.subject_type === 'jit_account' ? account.get(id) : undefined;
    if (access) return { actor, person: access.email, target: access.target, account: access.username, subject: null };
    if (e.subject_type === 'operator') return { actor, person: email.get(id) ?? null, target: null, account: null, subject: email.get(id) ?? null };
    const name = named.get(id) ?? null;
    return { actor, person: null, target: e.subject_type === 'target' ? name : null, account: null, subject: name };
  });
}
