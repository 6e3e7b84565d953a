/**
 * Watches targets with failed revocations and serves them the moment they are back: every tick,
 * each such target whose probe is due (src/core/target-probe.ts) gets a cheap `check`; when a
 * target answers again, the revocations waiting for it are made due now and the scheduler is
 * woken, instead of waiting out a backoff of up to `slowRetryMs` (15 minutes by default).
 *
 * Every replica probes on its own (a `check` is cheap and read-only); the revocations themselves
 * are still claimed once (SKIP LOCKED). Probe states live in memory, one per target with failed
 * revocations, never per grant.
 */
import { sql } from 'kysely';
import { afterProbe, defaultProbePolicy, keepOnly, probeDue, type ProbePolicy, type ProbeState } from '../core/target-probe.js';
import type { AppDeps } from './deps.js';
import { connectorFor, getTarget } from './targets.js';

export interface TargetProbe {
  /** One round: probes what is due (awaiting those checks); for tests driving a clock. */
  tick(): Promise<{ probed: string[]; hurried: number }>;
  start(tickMs?: number): void;
  stop(): Promise<void>;
}

export function createTargetProbe(deps: AppDeps, policy: ProbePolicy = defaultProbePolicy): TargetProbe {
  const states = new Map<string, ProbeState>();
  const inFlight = new Map<string, Promise<number>>();
  let timer: NodeJS.Timeout | null = null;
  let stopping = false;

  /**
   * Targets with a revocation that has failed at least once and is not done yet. The states are
   * literals so the planner always sees the partial index grants_revoking (a few rows, however
   * many grants are active).
   */
  async function targetsWithFailedRevocations() {
    return deps.db
      .selectFrom('grants')
      .select(['target_id', 'tenant_id'])
      .distinct()
      .where(sql<boolean>`state IN ('revoking', 'revoke_failed')`)
      .where('revoke_attempts', '>', 0)
      .execute();
  }

  async function reachable(tenantId: string, targetId: string): Promise<boolean> {
    try {
      const target = await getTarget(deps, tenantId, targetId);
      const { instance } = connectorFor(deps, target);
      const report = await deps.targetLimiter.run(target.id, () => instance.check({ log: deps.log }));
      return report.ok;
    } catch {
      return false;
    }
  }

  /** Moves the target's waiting revocations to now (not those another run holds right now). */
  async function hurry(targetId: string): Promise<number> {
    const now = deps.clock.now();
    const res = await sql`
      UPDATE scheduled_work SET due_at = ${now}
      WHERE kind = 'revoke' AND due_at > ${now}
        AND (locked_until IS NULL OR locked_until < ${now})
        AND grant_id IN (SELECT id FROM grants WHERE target_id = ${targetId} AND state IN ('revoking', 'revoke_failed'))`.execute(deps.db);
    const n = Number(res.numAffectedRows ?? 0);
    if (n > 0) {
      deps.log.info({ target: targetId, revocations: n }, 'target answers again; its pending revocations are due now');
      deps.poke();
    }
    return n;
  }

  async function probe(tenantId: string, targetId: string): Promise<number> {
    const up = await reachable(tenantId, targetId);
    const verdict = afterProbe(policy, states.get(targetId), up, deps.clock.now());
    states.set(targetId, verdict.state);
    return verdict.hurry ? hurry(targetId) : 0;
  }

  /** Starts the due probes; a check that hangs holds only its own target back. */
  async function launch(): Promise<{ probed: string[]; runs: Promise<number>[] }> {
    const targets = await targetsWithFailedRevocations();
    keepOnly(states, targets.map((t) => t.target_id));
    const now = deps.clock.now();
    const started: string[] = [];
    const runs: Promise<number>[] = [];
    for (const t of targets) {
      if (inFlight.has(t.target_id) || !probeDue(states.get(t.target_id), now)) continue;
      const run = probe(t.tenant_id, t.target_id).finally(() => inFlight.delete(t.target_id));
      inFlight.set(t.target_id, run);
      started.push(t.target_id);
      runs.push(run);
    }
    return { probed: started, runs };
  }

  async function tick() {
    const { probed, runs } = await launch();
    const hurried = (await Promise.all(runs)).reduce((a, b) => a + b, 0);
    return { probed, hurried };
  }

  function schedule(tickMs: number) {
    timer = setTimeout(() => {
      if (stopping) return;
      launch()
        .catch((err: unknown) => deps.log.warn({ err }, 'probing targets with failed revocations failed; trying again'))
        .finally(() => {
          if (!stopping) schedule(tickMs);
        });
    }, tickMs);
    timer.unref();
  }

  return {
    tick,
    start(tickMs = 2_000) {
      if (timer) return;
      stopping = false;
      schedule(tickMs);
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
