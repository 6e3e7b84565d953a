/** Reading grants, ending them early, and revealing a generated password once to its owner. */
import { sql } from 'kysely';
import { AppError, forbidden, notFound } from '../core/errors.js';
import { can } from '../core/roles.js';
import type { GrantState } from '../core/lifecycle.js';
import type { Actor, AppDeps } from './deps.js';
import { applyGrantEvent, InvalidTransitionError, StaleGrantError } from './grant-transitions.js';
import { loadGrant } from './grant-queries.js';
import { credentialContext } from './activate-grant.js';
import { readRules } from '../core/policy-rules.js';
import { requireFreshTotp } from '../auth/totp.js';
import { isOverdueRevocation } from './overdue-revocations.js';
import { connectDetails } from './connect-details.js';
import { gatewayOnlyRefusal } from './gateway-only.js';
import type { ConnectInfo } from '../core/connect-info.js';

export interface GrantView {
  id: string;
  state: GrantState;
  targetId: string;
  targetName: string;
  operatorId: string;
  operatorEmail: string;
  username: string;
  entitlements: string[];
  reason: string;
  durationSeconds: number;
  requestedStartAt: Date | null;
  startsAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  endReason: string | null;
  lastError: string | null;
  revokeAttempts: number;
  credentialAvailable: boolean;
  /** The policy's "gateway only": the password is never shown; the person connects through the SSH gateway. */
  gatewayOnly: boolean;
  ticket: string | null;
  emergency: boolean;
  policyId: string | null;
  /** The approval level a pending request waits for (0 when none). */
  approvalLevel: number;
  createdAt: Date;
}

/**
 * A grant as people see it, with the names around it. Only what the view shows is read: not the
 * handle or the encrypted credential (whether there is one is enough), not the policy's rules
 * (whether it is gateway-only is enough). A list of grants is the most frequent call.
 */
function baseQuery(deps: Pick<AppDeps, 'db'>) {
  return deps.db
    .selectFrom('grants')
    .innerJoin('targets', 'targets.id', 'grants.target_id')
    .innerJoin('jit_accounts', 'jit_accounts.id', 'grants.jit_account_id')
    .innerJoin('operators', 'operators.id', 'grants.operator_id')
    .innerJoin('access_requests', 'access_requests.id', 'grants.request_id')
    .leftJoin('policies', 'policies.id', 'grants.policy_id')
    .select([
      'grants.id',
      'grants.state',
      'grants.target_id',
      'grants.operator_id',
      'grants.entitlements',
      'grants.duration_seconds',
      'grants.requested_start_at',
      'grants.starts_at',
      'grants.expires_at',
      'grants.revoked_at',
      'grants.end_reason',
      'grants.last_error',
      'grants.revoke_attempts',
      'grants.emergency',
      'grants.policy_id',
      'grants.approval_level',
      'grants.created_at',
      'targets.name as target_name',
      'jit_accounts.username as username',
      'operators.email as operator_email',
      'access_requests.reason as reason',
      'access_requests.ticket as ticket',
    ])
    .select((eb) => [
      sql<boolean>`${eb.ref('grants.credential_enc')} IS NOT NULL`.as('has_credential'),
      // Stored rules were validated when saved; absent means the default (false).
      sql<boolean>`coalesce((${eb.ref('policies.rules')} -> 'gateway' ->> 'only')::boolean, false)`.as('gateway_only'),
    ]);
}

type Joined = Awaited<ReturnType<ReturnType<typeof baseQuery>['executeTakeFirstOrThrow']>>;

const gatewayOnlyOf = (rules: unknown): boolean => rules !== null && rules !== undefined && readRules(rules).gateway.only;

const toView = (g: Joined): GrantView => {
  const gatewayOnly = g.gateway_only;
  return {
    id: g.id,
    state: g.state as GrantState,
    targetId: g.target_id,
    targetName: g.target_name,
    operatorId: g.operator_id,
    operatorEmail: g.operator_email,
    username: g.username,
    entitlements: g.entitlements,
    reason: g.reason,
    durationSeconds: g.duration_seconds,
    requestedStartAt: g.requested_start_at,
    startsAt: g.starts_at,
    expiresAt: g.expires_at,
    revokedAt: g.revoked_at,
    endReason: g.end_reason,
    lastError: g.last_error,
    revokeAttempts: g.revoke_attempts,
    credentialAvailable: g.has_credential && !gatewayOnly,
    gatewayOnly,
    ticket: g.ticket,
    emergency: g.emergency,
    policyId: g.policy_id,
    approvalLevel: g.approval_level,
    createdAt: g.created_at,
  };
};

export interface Viewer {
  operatorId: string;
  roles: readonly string[];
}

export async function getGrant(deps: Pick<AppDeps, 'db'>, tenantId: string, viewer: Viewer, grantId: string): Promise<GrantView> {
  const row = await baseQuery(deps).where('grants.tenant_id', '=', tenantId).where('grants.id', '=', grantId).executeTakeFirst();
  if (!row || (row.operator_id !== viewer.operatorId && !can(viewer.roles, 'grants.read_all'))) throw notFound(`grant ${grantId}`);
  return toView(row);
}

export interface GrantFilter {
  state?: GrantState;
  mine?: boolean;
  targetId?: string;
  /** Only grants whose end has passed and that are not yet verified revoked. */
  overdue?: { now: Date };
  limit: number;
  /** keyset: grants created before this (created_at, id) */
  before?: { createdAt: Date; id: string } | null;
}

export async function listGrants(
  deps: Pick<AppDeps, 'db'>,
  tenantId: string,
  viewer: Viewer,
  f: GrantFilter,
): Promise<{ items: GrantView[]; next: { createdAt: Date; id: string } | null }> {
  let q = baseQuery(deps).where('grants.tenant_id', '=', tenantId);
  if (f.mine || !can(viewer.roles, 'grants.read_all')) q = q.where('grants.operator_id', '=', viewer.operatorId);
  if (f.state) q = q.where('grants.state', '=', f.state);
  if (f.targetId) q = q.where('grants.target_id', '=', f.targetId);
  if (f.overdue) {
    const now = f.overdue.now;
    q = q.where((eb) => isOverdueRevocation(eb, now));
  }
  if (f.before) {
    const b = f.before;
    q = q.where((eb) =>
      eb.or([eb('grants.created_at', '<', b.createdAt), eb.and([eb('grants.created_at', '=', b.createdAt), eb('grants.id', '<', b.id)])]),
    );
  }
  const rows = await q.orderBy('grants.created_at', 'desc').orderBy('grants.id', 'desc').limit(f.limit + 1).execute();
  const items = rows.slice(0, f.limit).map(toView);
  const last = items[items.length - 1];
  return { items, next: rows.length > f.limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}

/** End a grant early: its owner or someone allowed to revoke any grant. */
export async function endGrant(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  viewer: Viewer,
  grantId: string,
  reason: string,
): Promise<void> {
  const grant = await loadGrant(deps.db, grantId);
  if (!grant || grant.tenant_id !== tenantId) throw notFound(`grant ${grantId}`);
  const own = grant.operator_id === viewer.operatorId;
  if (!own && !can(viewer.roles, 'grants.revoke_any')) {
    if (can(viewer.roles, 'grants.read_all')) throw forbidden('you may end only your own grants');
    throw notFound(`grant ${grantId}`);
  }
  const event =
    grant.state === 'requested' || grant.state === 'approved'
      ? ({ type: 'cancel', reason } as const)
      : ({ type: 'revoke', reason } as const);
  for (let attempt = 0; ; attempt++) {
    const fresh = attempt === 0 ? grant : await loadGrant(deps.db, grantId);
    if (!fresh) throw notFound(`grant ${grantId}`);
    try {
      await deps.db.transaction().execute((tx) => applyGrantEvent(deps, tx, fresh, event, actor, { reason }));
      break;
    } catch (err) {
      if (err instanceof InvalidTransitionError) throw new AppError('conflict', err.message);
      if (!(err instanceof StaleGrantError) || attempt >= 3) throw err;
    }
  }
  deps.poke();
}

/** What a grant hands its owner once: a password, or an issued certificate, private key or token. */
export interface RevealedCredential {
  username: string;
  password: string | null;
  expiresAt: Date | null;
  certificate?: string;
  privateKey?: string;
  token?: string;
  caPublicKey?: string;
  /** Where and how to connect with it, and until when (null when the grant has no end time). */
  connect: ConnectInfo | null;
}

/** The generated password, once, to the grant's owner only; erased from the store as it is read. */
export async function revealCredential(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  viewer: Viewer,
  grantId: string,
  totp?: string,
): Promise<RevealedCredential> {
  const policy = await deps.db
    .selectFrom('grants')
    .leftJoin('policies', 'policies.id', 'grants.policy_id')
    .select(['policies.rules', 'grants.operator_id'])
    .where('grants.id', '=', grantId)
    .where('grants.tenant_id', '=', tenantId)
    .executeTakeFirst();
  if (policy && policy.operator_id === viewer.operatorId && gatewayOnlyOf(policy.rules)) throw gatewayOnlyRefusal();
  if (policy && policy.operator_id === viewer.operatorId && readRules(policy.rules).mfa.reveal) {
    await requireFreshTotp(deps, viewer.operatorId, totp, 'reveal');
  }
  const revealed = await deps.db.transaction().execute(async (tx) => {
    const grant = await tx
      .selectFrom('grants')
      .selectAll()
      .where('id', '=', grantId)
      .where('tenant_id', '=', tenantId)
      .forUpdate()
      .executeTakeFirst();
    if (!grant || grant.operator_id !== viewer.operatorId) throw notFound(`grant ${grantId}`);
    // Only while the grant is active: once it is ending (or failed to end) the password is not shown.
    if (grant.state !== 'active') throw new AppError('conflict', `the grant is ${grant.state}; there is no password to show`);
    if (!grant.credential_enc) throw new AppError('conflict', 'the password was already shown once and is not stored any more');
    const credential = JSON.parse(deps.secrets.decrypt(grant.credential_enc, credentialContext(grant.id))) as {
      username: string;
      password?: string;
      certificate?: string;
      privateKey?: string;
      token?: string;
      caPublicKey?: string;
    };
    await tx
      .updateTable('grants')
      .set({ credential_enc: null, credential_revealed_at: deps.clock.now() })
      .where('id', '=', grant.id)
      .execute();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'grant.credential_revealed',
      subject: { type: 'grant', id: grant.id },
      after: { username: credential.username },
    });
    return {
      username: credential.username,
      password: credential.password ?? null,
      expiresAt: grant.expires_at,
      ...(credential.certificate !== undefined ? { certificate: credential.certificate } : {}),
      ...(credential.privateKey !== undefined ? { privateKey: credential.privateKey } : {}),
      ...(credential.token !== undefined ? { token: credential.token } : {}),
      ...(credential.caPublicKey !== undefined ? { caPublicKey: credential.caPublicKey } : {}),
      targetId: grant.target_id,
    };
  });
  const { targetId, ...rest } = revealed;
  return { ...rest, connect: await connectDetails(deps, tenantId, { targetId, username: rest.username, expiresAt: rest.expiresAt }) };
}
