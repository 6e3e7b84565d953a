/**
 * Per-person JIT accounts: listed with their state, and enabled again for a new grant with a
 * new reason and duration (the seeds' three-dot menu), possibly under another policy. Rotating
 * and deleting live in rotate-jit-password.ts and delete-jit-account.ts.
 */
import { notFound } from '../core/errors.js';
import { can } from '../core/roles.js';
import type { GrantRow, JitAccountRow } from '../store/schema.js';
import type { Actor, AppDeps } from './deps.js';
import { requestAccess, type Requester } from './request-access.js';

export interface JitAccountView {
  id: string;
  username: string;
  status: string;
  targetId: string;
  targetName: string;
  targetKind: string;
  /** The target can set a fresh password on an enabled account ("Rotate password"). */
  canRotate: boolean;
  operatorId: string;
  operatorEmail: string;
  lastGrantId: string | null;
  confirmedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export async function listJitAccounts(
  deps: Pick<AppDeps, 'db' | 'connectors'>,
  tenantId: string,
  viewer: { operatorId: string; roles: readonly string[] },
  opts: { mine?: boolean; limit: number; after?: string | null },
): Promise<{ items: JitAccountView[]; next: string | null }> {
  let q = deps.db
    .selectFrom('jit_accounts')
    .innerJoin('targets', 'targets.id', 'jit_accounts.target_id')
    .innerJoin('operators', 'operators.id', 'jit_accounts.operator_id')
    .selectAll('jit_accounts')
    .select(['targets.name as target_name', 'targets.kind as target_kind', 'operators.email as operator_email'])
    .where('jit_accounts.tenant_id', '=', tenantId)
    .where('jit_accounts.status', '<>', 'deleted')
    // Accounts on a deleted target can no longer be asked for or enabled: not listed.
    .where('targets.deleted_at', 'is', null);
  if (opts.mine || !can(viewer.roles, 'grants.read_all')) q = q.where('jit_accounts.operator_id', '=', viewer.operatorId);
  if (opts.after) q = q.where('jit_accounts.id', '>', opts.after);
  const rows = await q.orderBy('jit_accounts.id').limit(opts.limit + 1).execute();
  const items = rows.slice(0, opts.limit).map((r) => ({
    id: r.id,
    username: r.username,
    status: r.status,
    targetId: r.target_id,
    targetName: r.target_name,
    targetKind: r.target_kind,
    canRotate: deps.connectors.definition(r.target_kind)?.capabilities.canRotate ?? false,
    operatorId: r.operator_id,
    operatorEmail: r.operator_email,
    lastGrantId: r.last_grant_id,
    confirmedAt: r.confirmed_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));
  return { items, next: rows.length > opts.limit ? items[items.length - 1]!.id : null };
}

/** A JIT account of the tenant that is not deleted, or undefined. */
export async function findLiveAccount(deps: Pick<AppDeps, 'db'>, tenantId: string, accountId: string): Promise<JitAccountRow | undefined> {
  return deps.db
    .selectFrom('jit_accounts')
    .selectAll()
    .where('id', '=', accountId)
    .where('tenant_id', '=', tenantId)
    .where('status', '<>', 'deleted')
    .executeTakeFirst();
}

/** Enable again: a new grant for the same account. Only its owner may, since it is theirs alone. */
export async function enableJitAccount(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  who: Requester,
  accountId: string,
  ask: {
    reason: string;
    durationSeconds?: number;
    entitlements?: string[];
    policyId?: string | null;
    ticket?: string | null;
    totp?: string;
    startAt?: Date | null;
    emergency?: boolean;
  },
): Promise<GrantRow> {
  const account = await findLiveAccount(deps, tenantId, accountId);
  if (!account || account.operator_id !== who.operatorId) throw notFound(`JIT account ${accountId}`);
  let entitlements = ask.entitlements;
  if (!entitlements?.length) {
    const last = account.last_grant_id
      ? await deps.db.selectFrom('grants').select('entitlements').where('id', '=', account.last_grant_id).executeTakeFirst()
      : undefined;
    entitlements = last?.entitlements ?? [];
  }
  return requestAccess(deps, actor, tenantId, who, {
    targetId: account.target_id,
    entitlements,
    durationSeconds: ask.durationSeconds,
    reason: ask.reason,
    policyId: ask.policyId,
    ticket: ask.ticket,
    totp: ask.totp,
    startAt: ask.startAt,
    emergency: ask.emergency,
  });
}
