/**
 * The reconciler: the target is brought back to what Timebox granted, never the other way.
 *
 * It walks the JIT accounts in pages and asks each target what is there:
 * - an account with no live grant is verified as if fully revoked (`retain: []`, no further need,
 *   the last grant's handle); anything but 'absent' (re-enabled by hand, a group added, the
 *   expiry cleared) is drift, repaired with revoke + verify under the account lease;
 * - an account with live grants is verified against the union of their entitlements, where the
 *   connector can tell what it did not grant (see `liveDriftReaders`); extra groups are removed
 *   and a cleared or moved native expiry is set back to the latest end.
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
import { sql } from 'kysely';
import { holdingStates } from '../core/lifecycle.js';
import { classifyTargetError } from '../core/errors.js';
import type { ConnectorInstance, RevokeSpec, VerifyResult } from '../connectors/contract.js';
import { generatePassword } from '../secrets/password.js';
import type { GrantRow, JitAccountRow, TargetRow } from '../store/schema.js';
import { acquireAccountLease, releaseAccountLease } from './account-lease.js';
import { systemActor, type Actor, type AppDeps } from './deps.js';
import { grantSummary, tenantAdmins } from './approvers.js';
import { handleOf, latestEnd } from './grant-queries.js';
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
const RUN_LEASE_MS = 120_000;
/** accountExpires may differ from the grant's end by rounding; more than this is drift. */
const EXPIRY_TOLERANCE_MS = 60_000;
const inFlightStates = ['activating', 'revoking', 'revoke_failed'];

/** What a full-revoke verify of an account with live grants says is drift. */
interface LiveDrift {
  /** Entitlements present that no live grant holds: to be taken away. */
  extras: string[];
  /** Every finding that counts as drift (for the audit log). */
  findings: string[];
}
type LiveDriftReader = (findings: string[], latestEnd: Date) => LiveDrift;

/**
 * Connectors whose verify, given a full revoke spec retaining every live entitlement, names what
 * Timebox did not grant. Their other findings (the account is enabled, expires at the end of the
 * grant) are what a live grant is supposed to look like. Kinds without a reader (postgres,
 * active-directory-groups, fake) are checked only once no grant of the account is live.
 */
const liveDriftReaders: Record<string, LiveDriftReader> = {
  'active-directory': (findings, end) => {
    const drift: LiveDrift = { extras: [], findings: [] };
    for (const f of findings) {
      const extra = /^\S+ is a member of (.+), which Timebox did not grant$/.exec(f);
      if (extra) {
        drift.extras.push(extra[1]!);
        drift.findings.push(f);
        continue;
      }
      if (/never expires/.test(f) || /is not a Timebox JIT account/.test(f)) {
        drift.findings.push(f);
        continue;
      }
      const later = /^accountExpires of \S+ is (\S+), later than the grant$/.exec(f);
      if (later && new Date(later[1]!).getTime() > end.getTime() + EXPIRY_TOLERANCE_MS) drift.findings.push(f);
    }
    return drift;
  },
};

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
            if (clean && ids.length) await resolveDriftAlerts(deps, ids);
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

  let spec: RevokeSpec;
  let repairSpec: RevokeSpec;
  let findings: string[];
  const ask = (s: RevokeSpec) => deps.targetLimiter.run(target.id, () => instance.verify({ log: deps.log }, s));
  try {
    if (live.length === 0) {
      spec = { grantId: last.id, handle: handleOf(last), retain: [], accountStillNeededUntil: null, rotatePassword: generatePassword(32) };
      const verified = await ask(spec);
      counts.checked++;
      if (verified.state === 'absent') return true;
      findings = verified.findings.length ? verified.findings : [`the target reports the account as ${verified.state}`];
      repairSpec = spec;
    } else {
      const reader = liveDriftReaders[target.kind];
      if (!reader) return false;
      const newest = [...live].sort((a, b) => (b.starts_at?.getTime() ?? 0) - (a.starts_at?.getTime() ?? 0))[0]!;
      const retain = [...new Set(live.flatMap((g) => g.entitlements))];
      const end = latestEnd(live)!;
      spec = { grantId: newest.id, handle: handleOf(newest), retain, accountStillNeededUntil: null, rotatePassword: generatePassword(32) };
      const verified = await ask(spec);
      counts.checked++;
      const drift = reader(verified.findings, end);
      if (drift.findings.length === 0) return true;
      findings = drift.findings;
      // Take away only what no live grant holds, and set the native expiry back to their end.
      repairSpec = { ...spec, handle: { ...handleOf(newest), entitlements: drift.extras }, accountStillNeededUntil: end };
    }
  } catch (err) {
    const e = classifyTargetError(err);
    counts.failed++;
    deps.log.warn({ account: account.id, target: target.id, errorClass: e.errorClass, err: e.message }, 'reconciler could not check a JIT account');
    return false;
  }

  counts.drifted++;
  await repair(deps, actor, account, target, instance, holding, repairSpec, findings, live.length > 0, counts);
  return false;
}

const DRIFT_ALERT = 'Drift on JIT account%';

/** Grants (of this page) with an open drift alert: resolved once their account checks clean. */
async function openDriftAlerts(deps: AppDeps, grantIds: string[]): Promise<Set<string>> {
  if (grantIds.length === 0) return new Set();
  const rows = await deps.db
    .selectFrom('alerts')
    .select('grant_id')
    .where('grant_id', 'in', grantIds)
    .where('resolved_at', 'is', null)
    .where('message', 'like', DRIFT_ALERT)
    .execute();
  return new Set(rows.map((r) => r.grant_id!));
}

async function resolveDriftAlerts(deps: AppDeps, grantIds: string[]): Promise<void> {
  await deps.db
    .updateTable('alerts')
    .set({ resolved_at: deps.clock.now() })
    .where('grant_id', 'in', grantIds)
    .where('resolved_at', 'is', null)
    .where('message', 'like', DRIFT_ALERT)
    .execute();
}

async function repair(
  deps: AppDeps,
  actor: Actor,
  account: AccountRow,
  target: TargetRow,
  instance: ConnectorInstance,
  seen: GrantRow[],
  spec: RevokeSpec,
  findings: string[],
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
    const about = { targetId: target.id, username: account.username, live, findings };
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
      if (after.state !== 'absent') failure = `verification after the repair found: ${after.findings.join('; ') || after.state}`;
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
        await tx
          .updateTable('alerts')
          .set({ resolved_at: at })
          .where('grant_id', '=', spec.grantId)
          .where('resolved_at', 'is', null)
          .where('message', 'like', DRIFT_ALERT)
          .execute();
      });
      deps.log.warn({ account: account.id, target: target.id, findings }, 'reconciler repaired drift on a JIT account');
      return;
    }

    counts.failed++;
    deps.log.error({ account: account.id, target: target.id, findings, err: failure }, 'reconciler could not repair drift on a JIT account');
    await deps.db.transaction().execute(async (tx) => {
      await deps.audit.append(tx, {
        tenantId: account.tenant_id,
        actor,
        action: 'drift.repair_failed',
        subject: { type: 'jit_account', id: account.id },
        reason: failure,
        after: about,
      });
      const message = `Drift on JIT account ${account.username} (target ${target.name}) could not be repaired: ${failure}. Found: ${findings.join('; ')}`;
      const open = await tx
        .selectFrom('alerts')
        .select('id')
        .where('grant_id', '=', spec.grantId)
        .where('resolved_at', 'is', null)
        .where('message', 'like', DRIFT_ALERT)
        .executeTakeFirst();
      if (!open) {
        await tx
          .insertInto('alerts')
          .values({ id: randomUUID(), tenant_id: account.tenant_id, grant_id: spec.grantId, severity: 'critical', message: message.slice(0, 2000), created_at: at })
          .execute();
        // Once per open alert: the owner and the tenant's admins hear of it, not only the alerts page.
        const grant = deps.notifier ? await tx.selectFrom('grants').selectAll().where('id', '=', spec.grantId).executeTakeFirst() : undefined;
        if (deps.notifier && grant) {
          await deps.notifier.enqueue(
            tx,
            account.tenant_id,
            { type: 'drift_unrepaired', grant: await grantSummary(tx, grant), account: account.username, error: failure.slice(0, 1000), findings: findings.slice(0, 20) },
            { operatorIds: [...new Set([account.operator_id, ...(await tenantAdmins(tx, account.tenant_id))])] },
          );
        }
        await deps.audit.append(tx, {
          tenantId: account.tenant_id,
          actor,
          action: 'alert.raised',
          subject: { type: 'jit_account', id: account.id },
          reason: message.slice(0, 2000),
          after: { severity: 'critical' },
        });
      }
    });
  } finally {
    await releaseAccountLease(deps.db, account.id, token);
  }
}

/** A lease row in `settings`: one holder per scope across processes; lapses if the holder dies. */
function runLease(deps: AppDeps, key: string) {
  const owner = `${deps.workerId}:${randomUUID()}`;
  const value = () => JSON.stringify({ owner, until: new Date(deps.clock.now().getTime() + RUN_LEASE_MS).toISOString() });
  let renewedAt = 0;
  const lease = {
    async acquire(): Promise<boolean> {
      const now = deps.clock.now().toISOString();
      const r = await sql<{ key: string }>`
        INSERT INTO settings (key, value) VALUES (${key}, ${value()}::jsonb)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
        WHERE (settings.value->>'until')::timestamptz < ${now}::timestamptz OR settings.value->>'owner' = ${owner}
        RETURNING key`.execute(deps.db);
      renewedAt = Date.now();
      return r.rows.length === 1;
    },
    /** Renews when a third of the lease has passed (real time: a run's length is real). */
    async keep(): Promise<boolean> {
      if (Date.now() - renewedAt < RUN_LEASE_MS / 3) return true;
      const r = await sql<{ key: string }>`
        UPDATE settings SET value = ${value()}::jsonb WHERE key = ${key} AND value->>'owner' = ${owner} RETURNING key`.execute(deps.db);
      renewedAt = Date.now();
      return r.rows.length === 1;
    },
    async release(): Promise<void> {
      await sql`DELETE FROM settings WHERE key = ${key} AND value->>'owner' = ${owner}`.execute(deps.db);
    },
  };
  return lease;
}
