/**
 * The reconciler: the target is brought back to what Timebox granted, never the other way.
 *
 * It walks the JIT accounts in pages and asks each target what is there:
 * - an account with no live grant is verified as if fully revoked (`retain: []`, no further need,
 *   the last grant's handle); anything but 'absent' (re-enabled by hand, a group added, the
 *   expiry cleared) is drift, repaired with revoke + verify under the account lease;
 * - an account with live grants, on kinds with the `liveDrift` capability, is verified with a
 *   sweep retaining the union of their entitlements until their latest end: an entitlement none
 *   of them holds is taken away and a native expiry moved later (or cleared) is set back.
 * Findings are data (core/findings.ts): every one is drift, and each is audited as it is.
 * Accounts with work in flight (activating, revoking, revoke_failed) belong to the scheduler and
 * are skipped. Each drift is audited (`drift.detected`, then `drift.repaired` or
 * `drift.repair_failed` with a critical alert).
 *
 * One process at a time per scope: a lease row in `settings` (`reconciler:all`, or
 * `reconciler:tenant:<id>` for a run an admin asked for), renewed as pages go by and lapsing by
 * itself if the holder dies. No transaction is ever held open across a target call (PGlite has
 * one connection).
 */
import { randomUUID } from 'node:crypto';
import { holdingStates } from '../core/lifecycle.js';
import { classifyTargetError } from '../core/errors.js';
import type { ConnectorInstance, RevokeSpec, VerifyResult } from '../connectors/contract.js';
import { describeFindings } from '../core/findings.js';
import { generatePassword } from '../secrets/password.js';
import type { GrantRow, JitAccountRow, TargetRow } from '../store/schema.js';
import { acquireAccountLease, releaseAccountLease } from './account-lease.js';
import { systemActor, type Actor, type AppDeps } from './deps.js';
import { openDriftAlerts, raiseDriftAlert, resolveDriftAlerts } from './drift-alerts.js';
import { handleOf, latestEnd } from './grant-queries.js';
import { runLease } from './run-lease.js';
import { connectorFor } from './targets.js';

export interface ReconcileCounts {
  /** Accounts whose state was read from their target. */
  checked: number;
  /** Accounts where something was found that Timebox did not grant (or no longer grants). */
  drifted: number;
  repaired: number;
  /** Drift that could not be repaired, or accounts whose target could not be asked. */
  failed: number;
  /** Accounts left alone this time: work in flight, lease held by a job, no connector. */
  skipped: number;
  /** Another process holds this scope's lease: nothing was done. */
  busy: boolean;
}

export interface Reconciler {
  runOnce(opts?: { tenantId?: string; actor?: Actor }): Promise<ReconcileCounts>;
  /** Runs every `intervalMs` (0: never), the first time one interval after the start. */
  start(intervalMs: number): void;
  /** Stops the timer and ends a run in progress after the account it is on. */
  stop(): Promise<void>;
}

const PAGE = 100;
/** Accounts checked at once within a page (each target also has its own limit). */
const CONCURRENCY = 4;
const inFlightStates = ['activating', 'revoking', 'revoke_failed'];

type Counts = ReconcileCounts;
type AccountRow = JitAccountRow;

export function createReconciler(deps: AppDeps): Reconciler {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopping = false;

  async function runOnce(opts: { tenantId?: string; actor?: Actor } = {}): Promise<ReconcileCounts> {
    const counts: Counts = { checked: 0, drifted: 0, repaired: 0, failed: 0, skipped: 0, busy: false };
    const lease = runLease(deps, opts.tenantId ? `reconciler:tenant:${opts.tenantId}` : 'reconciler:all');
    if (!(await lease.acquire())) return { ...counts, busy: true };
    const actor = opts.actor ?? systemActor;
    const targets = new Map<string, TargetRow | null>();
    try {
      let after: string | null = null;
      let lost = false;
      while (!stopping && !lost) {
        // Deleted accounts are gone from their targets; 'deleting' ones are the delete's business.
        let q = deps.db.selectFrom('jit_accounts').selectAll().where('status', 'not in', ['deleting', 'deleted']).orderBy('id').limit(PAGE);
        if (opts.tenantId) q = q.where('tenant_id', '=', opts.tenantId);
        if (after) q = q.where('id', '>', after);
        const accounts = await q.execute();
        if (accounts.length === 0) break;
        after = accounts[accounts.length - 1]!.id;

        const ids = accounts.map((a) => a.id);
        const holding = await deps.db
          .selectFrom('grants')
          .selectAll()
          .where('jit_account_id', 'in', ids)
          .where('state', 'in', [...holdingStates, ...inFlightStates])
          .execute();
        const last = await lastGrants(deps, accounts);
        const alerted = await openDriftAlerts(deps, [...holding.map((g) => g.id), ...[...last.values()].map((g) => g.id)]);
        for (const id of new Set(accounts.map((a) => a.target_id))) {
          if (!targets.has(id)) targets.set(id, (await deps.db.selectFrom('targets').selectAll().where('id', '=', id).executeTakeFirst()) ?? null);
        }

        const queue = [...accounts];
        const worker = async () => {
          for (let a = queue.shift(); a && !stopping && !lost; a = queue.shift()) {
            if (!(await lease.keep())) {
              lost = true;
              break;
            }
            const mine = holding.filter((g) => g.jit_account_id === a!.id);
            const clean = await checkAccount(deps, actor, a, targets.get(a.target_id) ?? null, mine, last.get(a.id), counts);
            const ids = [...mine, last.get(a.id)].flatMap((g) => (g && alerted.has(g.id) ? [g.id] : []));
            if (clean && ids.length) await resolveDriftAlerts(deps.db, ids, deps.clock.now());
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
        if (accounts.length < PAGE) break;
      }
      if (lost) deps.log.warn({ tenantId: opts.tenantId }, 'reconciler lease lost to another process; this run stopped early');
    } finally {
      await lease.release();
    }
    if (counts.drifted || counts.failed) deps.log.warn({ ...counts, tenantId: opts.tenantId }, 'reconciler found drift');
    else deps.log.debug({ ...counts, tenantId: opts.tenantId }, 'reconciler run done');
    return counts;
  }

  function schedule(intervalMs: number) {
    timer = setTimeout(() => {
      running = runOnce()
        .catch((err: unknown) => deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'reconciler run failed'))
        .finally(() => {
          running = null;
          if (!stopping) schedule(intervalMs);
        });
    }, intervalMs);
    timer.unref();
  }

  return {
    runOnce,
    start(intervalMs) {
      if (intervalMs <= 0 || timer) return;
      stopping = false;
      schedule(intervalMs);
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}

/** The grant whose handle describes the account best: the last activated one, else the newest. */
async function lastGrants(deps: AppDeps, accounts: AccountRow[]): Promise<Map<string, GrantRow>> {
  const map = new Map<string, GrantRow>();
  const byId = accounts.filter((a) => a.last_grant_id).map((a) => a.last_grant_id!);
  if (byId.length) {
    for (const g of await deps.db.selectFrom('grants').selectAll().where('id', 'in', byId).execute()) map.set(g.jit_account_id, g);
  }
  const rest = accounts.filter((a) => !map.has(a.id)).map((a) => a.id);
  if (rest.length) {
    const newest = await deps.db
      .selectFrom('grants')
      .selectAll()
      .distinctOn('jit_account_id')
      .where('jit_account_id', 'in', rest)
      .orderBy('jit_account_id')
      .orderBy('created_at', 'desc')
      .execute();
    for (const g of newest) map.set(g.jit_account_id, g);
  }
  return map;
}

async function checkAccount(
  deps: AppDeps,
  actor: Actor,
  account: AccountRow,
  target: TargetRow | null,
  holding: GrantRow[],
  last: GrantRow | undefined,
  counts: Counts,
): Promise<boolean> {
  if (!target || !last) {
    counts.skipped++;
    return false;
  }
  let connector;
  try {
    connector = connectorFor(deps, target);
  } catch {
    counts.skipped++; // this server has no connector for the kind
    return false;
  }
  // Credential kinds name the requester; there is no account on the target to drift.
  if (connector.definition.accountName === 'requester') return false;
  if (holding.some((g) => inFlightStates.includes(g.state))) {
    counts.skipped++;
    return false;
  }
  const { instance } = connector;
  const live = holding.filter((g) => g.state === 'active');

  // What the live grants hold (nothing, when none is live); anything beyond is drift.
  let spec: RevokeSpec;
  if (live.length === 0) {
    // Only kinds whose accounts are Timebox's own sweep: an existing user's other groups are not ours.
    const sweep = connector.definition.capabilities.liveDrift === true;
    spec = { grantId: last.id, handle: handleOf(last), retain: [], accountStillNeededUntil: null, rotatePassword: generatePassword(32), sweep };
  } else {
    if (!connector.definition.capabilities.liveDrift) return false;
    const newest = [...live].sort((a, b) => (b.starts_at?.getTime() ?? 0) - (a.starts_at?.getTime() ?? 0))[0]!;
    const retain = [...new Set(live.flatMap((g) => g.entitlements))];
    spec = { grantId: newest.id, handle: handleOf(newest), retain, accountStillNeededUntil: latestEnd(live)!, rotatePassword: generatePassword(32), sweep: true };
  }
  let verified: VerifyResult;
  try {
    verified = await deps.targetLimiter.run(target.id, () => instance.verify({ log: deps.log }, spec));
    counts.checked++;
    if (verified.state === 'absent') return true;
  } catch (err) {
    const e = classifyTargetError(err);
    counts.failed++;
    deps.log.warn({ account: account.id, target: target.id, errorClass: e.errorClass, err: e.message }, 'reconciler could not check a JIT account');
    return false;
  }

  counts.drifted++;
  await repair(deps, actor, account, target, instance, holding, spec, verified, live.length > 0, counts);
  return false;
}

async function repair(
  deps: AppDeps,
  actor: Actor,
  account: AccountRow,
  target: TargetRow,
  instance: ConnectorInstance,
  seen: GrantRow[],
  spec: RevokeSpec,
  found: VerifyResult,
  live: boolean,
  counts: Counts,
): Promise<void> {
  const token = `${deps.workerId}:reconcile:${account.id}:${randomUUID()}`;
  if (!(await acquireAccountLease(deps.db, account.id, token, deps.clock.now()))) {
    // A grant or revoke job is working on it: it will leave the account as it should be, or
    // the next run sees the drift again.
    counts.skipped++;
    return;
  }
  try {
    // Decided on what we saw before the lease: if a grant started or ended since, look again next time.
    const now = await deps.db
      .selectFrom('grants')
      .select(['id', 'state'])
      .where('jit_account_id', '=', account.id)
      .where('state', 'in', [...holdingStates, ...inFlightStates])
      .execute();
    const key = (gs: Array<{ id: string; state: string }>) => gs.map((g) => `${g.id}:${g.state}`).sort().join(',');
    if (key(now) !== key(seen)) {
      counts.skipped++;
      return;
    }
    const { findings } = found;
    const about = { targetId: target.id, username: account.username, live, state: found.state, findings };
    await deps.audit.append(deps.db, {
      tenantId: account.tenant_id,
      actor,
      action: 'drift.detected',
      subject: { type: 'jit_account', id: account.id },
      after: about,
    });

    let failure: string | null = null;
    try {
      const after: VerifyResult = await deps.targetLimiter.run(target.id, async () => {
        await instance.revoke({ log: deps.log }, spec);
        return instance.verify({ log: deps.log }, spec);
      });
      if (after.state !== 'absent') failure = `verification after the repair found: ${describeFindings(after.findings) || after.state}`;
    } catch (err) {
      failure = classifyTargetError(err).message;
    }

    const at = deps.clock.now();
    if (!failure) {
      counts.repaired++;
      await deps.db.transaction().execute(async (tx) => {
        await deps.audit.append(tx, {
          tenantId: account.tenant_id,
          actor,
          action: 'drift.repaired',
          subject: { type: 'jit_account', id: account.id },
          after: about,
        });
        if (!live && account.status === 'enabled') {
          await tx.updateTable('jit_accounts').set({ status: 'disabled', updated_at: at }).where('id', '=', account.id).execute();
        }
        await resolveDriftAlerts(tx, [spec.grantId], at);
      });
      deps.log.warn({ account: account.id, target: target.id, findings }, 'reconciler repaired drift on a JIT account');
      return;
    }

    counts.failed++;
    const reason = failure;
    deps.log.error({ account: account.id, target: target.id, findings, err: reason }, 'reconciler could not repair drift on a JIT account');
    await deps.db.transaction().execute(async (tx) => {
      await deps.audit.append(tx, {
        tenantId: account.tenant_id,
        actor,
        action: 'drift.repair_failed',
        subject: { type: 'jit_account', id: account.id },
        reason,
        after: about,
      });
      await raiseDriftAlert(deps, tx, { actor, account, targetName: target.name, grantId: spec.grantId, failure: reason, findings, at });
    });
  } finally {
    await releaseAccountLease(deps.db, account.id, token);
  }
}
