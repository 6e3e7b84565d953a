/**
 * A person asks for entitlements on a target, for a duration, with a reason. Everything is
 * validated before anything is written (names, entitlements on the live target, the policy's
 * rules); then request, JIT account intent, grant and its scheduled work are written in one
 * transaction (intent before effect) and the request is routed: approved at once, granted as
 * break-glass, or left waiting for its approval levels.
 */
import { randomUUID } from 'node:crypto';
import { AppError, badRequest, conflict, notFound, policyViolation } from '../core/errors.js';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { AuditInput } from '../audit/types.js';
import type { Database, GrantRow, JitAccountRow, NewGrant, TargetRow } from '../store/schema.js';
import type { Actor, AppDeps } from './deps.js';
import { resolvePolicy } from './policies.js';
import { connectorFor } from './targets.js';
import { classifyTargetError } from '../core/errors.js';
import { evaluateAsk } from '../core/policy-evaluation.js';
import { readRules } from '../core/policy-rules.js';
import { routeRequest } from './route-request.js';
import { requireFreshTotp } from '../auth/totp.js';
import { checkJitSettings, type JitRules } from './jit-settings.js';
import { ensureAccountUsable, firstUsableName } from './account-ownership.js';
import { entitlementSeen } from './entitlement-lookup.js';
import { lockPerson } from './person-lock.js';
import { ensureKeyIsTheirs } from '../credentials/key-binding.js';
import { credentialsDb } from '../credentials/types.js';
import type { Write } from '../store/write-together.js';

export interface AccessAsk {
  targetId: string;
  entitlements: string[];
  durationSeconds?: number;
  reason: string;
  ticket?: string | null;
  policyId?: string | null;
  /** Only when the person has no JIT account on this target yet. */
  accountName?: string | null;
  startAt?: Date | null;
  /** Break-glass: granted at once if the policy allows it; everyone is alerted, a review is owed. */
  emergency?: boolean;
  /** A fresh authenticator code, when the policy demands one to request. */
  totp?: string;
  /** The requester's public key or CSR, for targets that issue certificates (checked by the connector). */
  publicKey?: string | null;
}

export interface Requester {
  operatorId: string;
  email: string;
  displayName: string;
  roles: readonly string[];
}

/** `alice.smith@example.com` -> `alice_smith_jit`, trimmed to fit the target's limit. */
export function defaultAccountName(email: string, maxLength = 20): string {
  const base = email.split('@')[0]!.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^[^a-z]+/, '').replace(/_+$/, '');
  const stem = (base || 'user').slice(0, Math.max(1, maxLength - 4)).replace(/_+$/, '');
  return `${stem}_jit`;
}

export async function requestAccess(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  who: Requester,
  ask: AccessAsk,
): Promise<GrantRow> {
  const now = deps.clock.now();
  const { target, jitRules, groupIds, own } = await loadRequestContext(deps, tenantId, ask.targetId, who.operatorId);
  const { definition, instance } = connectorFor(deps, target);

  const entitlements = [...new Set(ask.entitlements)];
  if (entitlements.length === 0) throw badRequest('choose at least one entitlement');
  for (const e of entitlements) {
    const why = definition.validateEntitlementName(e);
    if (why) throw badRequest(why);
  }
  checkJitSettings(jitRules, target, who, entitlements, groupIds);
  if (ask.publicKey != null && !definition.validateRequest) throw badRequest(`targets of kind "${target.kind}" do not take a public key`);
  const askProblem = await definition.validateRequest?.({ entitlements, ...(ask.publicKey != null ? { publicKey: ask.publicKey } : {}) });
  if (askProblem) throw badRequest(askProblem);

  const policy = await resolvePolicy(deps, tenantId, {
    policyId: ask.policyId,
    targetId: target.id,
    entitlements,
    roles: who.roles,
    operatorId: who.operatorId,
    groupIds,
  });
  const rules = readRules(policy.rules);
  const durationSeconds = ask.durationSeconds ?? policy.default_duration_seconds;
  const reason = ask.reason.trim();
  if (ask.startAt && ask.startAt.getTime() < now.getTime() - 60_000) throw badRequest('the start time is in the past');
  const evaluate = (openGrants: number) => {
    const e = evaluateAsk(
      { name: policy.name, maxDurationSeconds: policy.max_duration_seconds, reasonMinLength: policy.reason_min_length, rules },
      { durationSeconds, reason, ticket: ask.ticket, startAt: ask.startAt, emergency: ask.emergency },
      { now, requesterGroupIds: groupIds, openGrants },
    );
    if (e.route.kind === 'refused') throw policyViolation(e.refusals.join('; '), { refusals: e.refusals });
    return e;
  };
  // Counted here to refuse early; counted again where the grant is written (see below). Only a
  // policy with a cap counts open grants.
  const capped = rules.maxConcurrentGrants !== undefined;
  const evaluation = evaluate(capped ? await countOpenGrants(deps.db, who.operatorId, policy.id) : 0);
  // Before the transaction: a code is spent (and a failure audited) whatever happens next.
  if (rules.mfa.request) await requireFreshTotp(deps, who.operatorId, ask.totp, 'request');

  const ownAccount = () =>
    deps.db
      .selectFrom('jit_accounts')
      .selectAll()
      .where('target_id', '=', target.id)
      .where('operator_id', '=', who.operatorId)
      .where('status', '<>', 'deleted')
      .executeTakeFirst();
  let existing: OwnAccount | undefined = own;
  let username = chooseUsername(existing, ask.accountName, who.email, definition.accountName);
  if (!existing) {
    const why = definition.validateAccountName(username);
    if (why) throw badRequest(why);
  }
  // The certificate's subject is this name: a key already certified for someone else is refused now,
  // not after the approvals (the signing transaction checks again, under a lock on the key).
  if (ask.publicKey != null && definition.subjectKeyFingerprint) {
    await ensureKeyIsTheirs(credentialsDb(deps.db), tenantId, await definition.subjectKeyFingerprint(ask.publicKey), username);
  }
  // Ownership, before anything is written: the name is not another JIT account's (here or on a
  // target reaching the same cluster/domain) and the target's account is free or ours.
  const newAccountId = randomUUID();
  const checkName = async () => {
    const claimant = existing ?? { id: newAccountId, created_at: null, last_grant_id: null };
    if (!existing && !ask.accountName && definition.accountName !== 'requester') {
      const candidates = [username, ...[2, 3, 4, 5, 6, 7, 8, 9].map((n) => `${username}${n}`)];
      username = (await firstUsableName(deps, target, candidates.filter((c) => !definition.validateAccountName(c)), claimant)).username;
    } else {
      await ensureAccountUsable(deps, target, username, claimant);
    }
  };
  const nameChecked = async () => {
    try {
      await checkName();
    } catch (err) {
      // A first request racing another first request of the same person: the account the other one
      // just created is this person's own, not a foreign one. Check again as that account; the
      // transaction below reuses it under the person lock.
      if (existing || !(err instanceof AppError) || err.code !== 'conflict') throw err;
      existing = await ownAccount();
      if (!existing) throw err;
      username = chooseUsername(existing, ask.accountName, who.email, definition.accountName);
      await checkName();
    }
  };
  // The two checks on the target are independent: side by side, a request waits for one round
  // trip to the target instead of two (on a directory, each is a TLS handshake and a bind). A
  // refusal of the name is reported before one of the entitlements, as when they ran in turn.
  const [name, entitlementsFound] = await Promise.allSettled([nameChecked(), ensureEntitlementsExist(deps, instance, target.name, entitlements)]);
  if (name.status === 'rejected') throw name.reason;
  if (entitlementsFound.status === 'rejected') throw entitlementsFound.reason;

  const grantId = randomUUID();
  const requestId = randomUUID();
  const grant = await deps.db.transaction().execute(async (tx) => {
    // This person's requests are written one at a time (on any number of servers), so the cap on
    // open grants is counted where it is applied, and a first request racing another first
    // request for the same target finds the JIT account that one created instead of a 409.
    await lockPerson(tx, who.operatorId);
    if (capped) evaluate(await countOpenGrants(tx, who.operatorId, policy.id));
    const current =
      existing ??
      (await tx
        .selectFrom('jit_accounts')
        .selectAll()
        .where('target_id', '=', target.id)
        .where('operator_id', '=', who.operatorId)
        .where('status', '<>', 'deleted')
        .executeTakeFirst());
    let account: Pick<JitAccountRow, 'id' | 'username'>;
    // The request's events, written in one statement with those of its routing.
    const audit: AuditInput[] = [];
    // The request's rows (and a new JIT account), written in the grant's statement, first.
    const writes: Write[] = [];
    if (current) {
      // KEY SHARE: a delete (FOR UPDATE) that starts now waits for this request and then refuses,
      // a grant exists; the plain updates of activations and revocations (status, lease) do not
      // wait, so a transaction of theirs holding the audit chain never waits on this one.
      const held = await tx.selectFrom('jit_accounts').selectAll().where('id', '=', current.id).forKeyShare().executeTakeFirstOrThrow();
      if (held.status === 'deleting' || held.status === 'deleted') {
        throw conflict(`your JIT account ${held.username} on this target is being deleted; ask again once it is gone`);
      }
      if (!existing && ask.accountName && held.username !== username) {
        throw conflict(`your JIT account on this target is "${held.username}" (created by your other request a moment ago); its name cannot be changed`);
      }
      account = held;
    } else {
      account = { id: newAccountId, username };
      writes.push(
        tx.insertInto('jit_accounts').values({
          id: newAccountId,
          tenant_id: tenantId,
          target_id: target.id,
          operator_id: who.operatorId,
          username,
          status: 'provisioning',
          created_at: now,
          updated_at: now,
        }),
      );
      audit.push({
        tenantId,
        actor,
        action: 'jit_account.created',
        subject: { type: 'jit_account', id: account.id },
        after: { username, targetId: target.id, operatorId: who.operatorId },
      });
    }
    writes.push(
      tx.insertInto('access_requests').values({
        id: requestId,
        tenant_id: tenantId,
        requester_id: who.operatorId,
        target_id: target.id,
        policy_id: policy.id,
        entitlements,
        duration_seconds: durationSeconds,
        reason,
        ticket: ask.ticket ?? null,
        requested_start_at: ask.startAt ?? null,
        created_at: now,
        public_key: ask.publicKey ?? null,
      }),
    );
    audit.push({
      tenantId,
      actor,
      action: 'grant.requested',
      subject: { type: 'grant', id: grantId },
      reason,
      after: {
        targetId: target.id,
        username: account.username,
        entitlements,
        durationSeconds,
        policy: policy.name,
        ticket: ask.ticket ?? null,
        startAt: ask.startAt?.toISOString() ?? null,
        emergency: ask.emergency === true,
      },
    });
    // The grant row is written by its route, in the state the route gives it.
    const requested: NewGrant = {
      id: grantId,
      tenant_id: tenantId,
      policy_id: policy.id,
      emergency: ask.emergency === true,
      approval_level: evaluation.route.kind === 'approval' ? 1 : 0,
      request_id: requestId,
      jit_account_id: account.id,
      target_id: target.id,
      operator_id: who.operatorId,
      entitlements,
      state: 'requested',
      version: 1,
      duration_seconds: durationSeconds,
      requested_start_at: ask.startAt ?? null,
      pending_expires_at: new Date(now.getTime() + policy.pending_ttl_seconds * 1000),
      // Provisional handle: enough to revoke even if we crash before the target answers.
      handle: JSON.stringify({ username: account.username, entitlements }),
      created_at: now,
      updated_at: now,
    };
    const about = { requesterEmail: who.email, targetName: target.name, reason };
    return routeRequest(deps, tx, requested, evaluation.route, rules, policy.name, actor, { audit, writes }, about).catch((err: unknown) => {
      // Another person took the account name between the check above and now.
      if (isLiveAccountClash(err)) throw conflict(`the account name "${username}" is already used by another person on this target; choose another`);
      throw err;
    });
  });
  // An activating grant is run at once by the caller (`runNow`, as every route does; the
  // scheduler's sweep otherwise): only work due later needs the timer aimed. A request waiting
  // for approval scheduled only its pending timeout: the scheduler claims again only if that is
  // due before its timer fires (a claim now would find nothing).
  if (grant.state === 'requested') deps.poke(grant.pending_expires_at ?? undefined);
  else if (grant.state !== 'activating') deps.poke();
  return grant;
}

/** What a request needs of the person's JIT account on the target, if they have one. */
type OwnAccount = Pick<JitAccountRow, 'id' | 'username' | 'created_at' | 'last_grant_id'>;

/**
 * The target (live, of this tenant), its JIT settings if any were saved, the requester's operator
 * groups in the tenant and their JIT account on the target: one read.
 */
async function loadRequestContext(
  deps: AppDeps,
  tenantId: string,
  targetId: string,
  operatorId: string,
): Promise<{ target: TargetRow; jitRules: JitRules | undefined; groupIds: string[]; own: OwnAccount | undefined }> {
  const row = await deps.db
    .selectFrom('targets')
    .leftJoin('tenant_jit_settings as s', (j) => j.onRef('s.target_id', '=', 'targets.id').onRef('s.tenant_id', '=', 'targets.tenant_id'))
    .selectAll('targets')
    .leftJoin('jit_accounts as own', (j) =>
      j.onRef('own.target_id', '=', 'targets.id').on('own.operator_id', '=', operatorId).on('own.status', '<>', 'deleted'),
    )
    .select(['s.enabled as jit_enabled', 's.allowed_groups as jit_allowed_groups', 's.creator_group_ids as jit_creator_group_ids'])
    .select(['own.id as own_id', 'own.username as own_username', 'own.created_at as own_created_at', 'own.last_grant_id as own_last_grant_id'])
    .select(
      sql<string[]>`ARRAY(
        SELECT g.id::text FROM operator_group_members m JOIN operator_groups g ON g.id = m.group_id
        WHERE g.tenant_id = targets.tenant_id AND m.operator_id = ${operatorId})`.as('group_ids'),
    )
    .where('targets.tenant_id', '=', tenantId)
    .where('targets.id', '=', targetId)
    .where('targets.deleted_at', 'is', null)
    .executeTakeFirst();
  if (!row) throw notFound(`target ${targetId}`);
  const { jit_enabled, jit_allowed_groups, jit_creator_group_ids, group_ids, own_id, own_username, own_created_at, own_last_grant_id, ...target } = row;
  const jitRules =
    jit_enabled === null ? undefined : { enabled: jit_enabled, allowed_groups: jit_allowed_groups ?? [], creator_group_ids: jit_creator_group_ids ?? [] };
  const own =
    own_id === null || own_username === null || own_created_at === null
      ? undefined
      : { id: own_id, username: own_username, created_at: own_created_at, last_grant_id: own_last_grant_id };
  return { target, jitRules, groupIds: group_ids, own };
}

/** The person's pending or live grants under a policy: what `maxConcurrentGrants` counts. */
async function countOpenGrants(db: Kysely<Database> | Transaction<Database>, operatorId: string, policyId: string): Promise<number> {
  const open = await db
    .selectFrom('grants')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('operator_id', '=', operatorId)
    .where('policy_id', '=', policyId)
    .where('state', 'in', ['requested', 'approved', 'activating', 'active'])
    .executeTakeFirstOrThrow();
  return Number(open.n);
}

/** A unique violation of the live JIT accounts' indexes (a name, an owner): the driver's fields, not its words. */
const LIVE_ACCOUNT_INDEXES: readonly unknown[] = ['jit_accounts_live_name', 'jit_accounts_live_owner'];
function isLiveAccountClash(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; constraint?: unknown };
  return e.code === '23505' && LIVE_ACCOUNT_INDEXES.includes(e.constraint);
}

function chooseUsername(
  existing: Pick<JitAccountRow, 'username'> | undefined,
  asked: string | null | undefined,
  email: string,
  mode: 'per-person' | 'requester' = 'per-person',
): string {
  if (mode === 'requester' && !existing && asked && asked !== email.toLowerCase()) {
    throw badRequest('on this target the account is your identity (your e-mail address); accountName cannot be chosen');
  }
  if (existing) {
    if (asked && asked !== existing.username) {
      throw conflict(`your JIT account on this target is "${existing.username}"; its name cannot be changed after creation`);
    }
    return existing.username;
  }
  if (mode === 'requester') return email.toLowerCase();
  return asked ?? defaultAccountName(email);
}

async function ensureEntitlementsExist(
  deps: AppDeps,
  instance: ReturnType<typeof connectorFor>['instance'],
  targetName: string,
  entitlements: string[],
): Promise<void> {
  const missing: string[] = [];
  for (const name of entitlements) {
    let exists;
    try {
      exists = await entitlementSeen(instance, { log: deps.log }, name, deps.clock.now().getTime());
    } catch (err) {
      const e = classifyTargetError(err);
      throw new AppError('target_error', `target "${targetName}" could not be reached to check the entitlements: ${e.message}`);
    }
    if (!exists) missing.push(name);
  }
  if (missing.length) throw badRequest(`target "${targetName}" has no entitlement named ${missing.map((m) => `"${m}"`).join(', ')}`);
}
