/**
 * Who may use an account name on a target, checked before anything is written:
 * - in Timebox's own store: a JIT account name is taken on every target that reaches the same
 *   cluster or domain (the connector's `accountScope`), in any tenant, by whichever live JIT
 *   account had it first;
 * - on the target: the connector's exact `accountStatus` must say free or owned by this very JIT
 *   account of this installation (its marker), never foreign.
 * Refusals are 409s with the reason in words; nothing is adopted on a guess.
 */
import { sql } from 'kysely';
import { type AccountOwner, type AccountStatus, describeForeign } from '../core/account-ownership.js';
import { AppError, badRequest, classifyTargetError, conflict } from '../core/errors.js';
import type { ConnectorInstance } from '../connectors/contract.js';
import type { JitAccountRow, TargetRow } from '../store/schema.js';
import type { AppDeps } from './deps.js';
import { installationId } from './installation.js';
import { configContext, connectorFor } from './targets.js';

type Deps = Pick<AppDeps, 'db' | 'connectors' | 'secrets' | 'log' | 'targetLimiter'>;

/** The JIT account asking: an existing row, or the id a new one will get. */
export type Claimant = Pick<JitAccountRow, 'id' | 'created_at' | 'last_grant_id'> | { id: string; created_at: null; last_grant_id: null };

/** The namespace account names of this target live in; a target of its own when the kind says none. */
function scopeOf(deps: Deps, target: Pick<TargetRow, 'id' | 'kind' | 'config_enc'>): string {
  const definition = deps.connectors.definition(target.kind);
  if (!definition?.accountScope) return `target:${target.id}`;
  try {
    const config = definition.configSchema.parse(JSON.parse(deps.secrets.decrypt(target.config_enc, configContext(target.id))));
    return definition.accountScope(config);
  } catch {
    return `target:${target.id}`; // unreadable config: it cannot reach anything
  }
}

/**
 * Live JIT accounts of this installation with the same name (ignoring case: AD does) on a target
 * reaching the same scope, that came before the claimant (any, for a new account).
 */
async function earlierHolders(deps: Deps, target: TargetRow, username: string, claimant: Claimant) {
  const rows = await deps.db
    .selectFrom('jit_accounts')
    .innerJoin('targets', 'targets.id', 'jit_accounts.target_id')
    .select(['jit_accounts.id', 'jit_accounts.created_at', 'jit_accounts.target_id', 'targets.kind', 'targets.config_enc'])
    .where('targets.kind', '=', target.kind)
    .where(sql<string>`lower(jit_accounts.username)`, '=', username.toLowerCase())
    .where('jit_accounts.status', '<>', 'deleted')
    .where('jit_accounts.id', '<>', claimant.id)
    .execute();
  const mine = scopeOf(deps, target);
  const first = (r: (typeof rows)[number]) =>
    claimant.created_at === null ||
    r.created_at < claimant.created_at ||
    (r.created_at.getTime() === claimant.created_at.getTime() && r.id < claimant.id);
  return rows.filter(
    (r) => first(r) && (r.target_id === target.id || scopeOf(deps, { id: r.target_id, kind: r.kind, config_enc: r.config_enc }) === mine),
  );
}

/** Refuses a name another JIT account holds on this target or on one reaching the same cluster/domain. */
export async function ensureNameUnclaimed(deps: Deps, target: TargetRow, username: string, claimant: Claimant): Promise<void> {
  const holders = await earlierHolders(deps, target, username, claimant);
  if (holders.some((h) => h.target_id === target.id)) {
    throw conflict(`the account name "${username}" is already used by another person on this target; choose another`);
  }
  if (holders.length > 0) {
    throw conflict(
      `the account name "${username}" is already used by another JIT account on a target that reaches the same server or domain as "${target.name}"; choose another`,
    );
  }
}

/**
 * The owner a connector checks markers against. An account created before markers named their
 * owner may be claimed only by a JIT account that was enabled before and holds the name first.
 */
export async function ownerFor(deps: Deps, target: TargetRow, username: string, claimant: Claimant): Promise<AccountOwner> {
  const claimLegacy = claimant.last_grant_id !== null && (await earlierHolders(deps, target, username, claimant)).length === 0;
  return { accountId: claimant.id, installationId: await installationId(deps.db), claimLegacy };
}

/** Asks the target (exact lookup). Kinds without accounts the server can look up answer free. */
export async function accountStatusOn(
  deps: Deps,
  target: TargetRow,
  instance: ConnectorInstance,
  username: string,
  owner: AccountOwner,
): Promise<AccountStatus> {
  if (!instance.accountStatus) return { status: 'free' };
  try {
    return await deps.targetLimiter.run(target.id, () => instance.accountStatus!({ log: deps.log }, username, owner));
  } catch (err) {
    const e = classifyTargetError(err);
    if (e.errorClass === 'invalid') throw badRequest(`the account name "${username}" cannot be used on target "${target.name}": ${e.message}`);
    throw new AppError('target_error', `target "${target.name}" could not be reached to check the account name: ${e.message}`);
  }
}

export function foreignConflict(target: TargetRow, username: string, status: AccountStatus & { status: 'foreign' }): AppError {
  return conflict(
    `the account name "${username}" is already in use on target "${target.name}" (${describeForeign(status.reason)}); Timebox will not take it over: choose another account name`,
    { reason: status.reason },
  );
}

/**
 * Before a request (a new JIT account or "enable again"): the name is this claimant's in the
 * store and on the target, or free there. Returns the owner to hand the connector at activation.
 */
export async function ensureAccountUsable(
  deps: Deps,
  target: TargetRow,
  username: string,
  claimant: Claimant,
): Promise<AccountOwner> {
  const { definition, instance } = connectorFor(deps, target);
  await ensureNameUnclaimed(deps, target, username, claimant);
  // No earlier holder (ensureNameUnclaimed refuses any), so ownerFor's own lookup would find none.
  const owner: AccountOwner = { accountId: claimant.id, installationId: await installationId(deps.db), claimLegacy: claimant.last_grant_id !== null };
  if (!definition.capabilities.jitAccounts || definition.accountName === 'requester') return owner;
  const status = await accountStatusOn(deps, target, instance, username, owner);
  if (status.status === 'foreign') throw foreignConflict(target, username, status);
  return owner;
}

/**
 * A name Timebox chose itself (the person asked for none): the first of `candidates` this
 * claimant may use, so a person with JIT accounts on two databases of one cluster gets `ann_jit`
 * and `ann_jit2` instead of a refusal. The first refusal is reported when none is usable.
 */
export async function firstUsableName(
  deps: Deps,
  target: TargetRow,
  candidates: string[],
  claimant: Claimant,
): Promise<{ username: string; owner: AccountOwner }> {
  let refusal: unknown = null;
  for (const username of candidates) {
    try {
      return { username, owner: await ensureAccountUsable(deps, target, username, claimant) };
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'conflict') throw err;
      refusal ??= err;
    }
  }
  throw refusal ?? conflict('no account name could be chosen; ask for one (accountName)');
}
