/**
 * Full lifecycles per second on PostgreSQL: request -> activate -> expire -> revoke, through the
 * app layer (requestAccess + inline activation as the HTTP route does it), with the server's own
 * scheduler doing expiry and revocation on the real clock. Grants last 1 s (the shortest whole
 * duration), so the pipeline is short and the run measures work, not waiting.
 *
 * Throughput is counted from the completions: (N - 1) / (last revoked_at - first revoked_at).
 * That is the steady-state rate of whichever half is slower (request+activate by the callers,
 * or expiry+revoke by the scheduler) without the fixed 1 s fill of the pipeline.
 *
 * pgbench runs on the same cluster in the same run, so the ratio compares like with like.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { startTimebox } from '../src/server/start.js';
import { requestActivated, seedOperators, seededOperators } from './seed.js';
import { benchLogger, say, serverEnv, setupTenant } from './setup.js';
import { clusterCpuMs, reapedChildrenCpuMs } from './process-cpu.js';

const run = promisify(execFile);

export interface LifecycleResult {
  lifecycles: number;
  concurrency: number;
  durationSeconds: number;
  /** Steady-state completions per second (see above). */
  perSecond: number;
  /** N / (last revoked - first request), fill included: the conservative figure. */
  wallPerSecond: number;
  /** How fast callers got their grants active (request + inline activation). */
  requestPerSecond: number;
  endedOtherwise: number;
  requestErrors: number;
  timedOut: boolean;
  /** Audit event written -> sealed into its chain, over the last 1,024 events sealed during the run. */
  sealLagMs: { p50: number | null; p99: number | null; max: number | null };
  /**
   * CPU per lifecycle, first request to last revocation: Timebox (this process: the callers and
   * the server are one) and the whole PostgreSQL cluster; beside pgbench's own (PgbenchResult).
   */
  cpuMsPerLifecycle: { timebox: number; postgres: number };
}

export interface PgbenchResult {
  tps: number;
  /** CPU per transaction: the pgbench client and the PostgreSQL cluster. */
  cpuMsPerTransaction: { client: number; postgres: number };
}

export async function measureLifecycles(o: { databaseUrl: string; postmaster: number; lifecycles: number; concurrency: number; timeoutMs: number }): Promise<LifecycleResult> {
  const durationSeconds = 1;
  const tb = await startTimebox({ env: serverEnv({ DATABASE_URL: o.databaseUrl }), logger: benchLogger() });
  try {
    const t = await setupTenant(tb.url, tb.bootstrap, { maxDurationSeconds: 3600 });
    // One person per lifecycle: each request also creates that person's JIT account, i.e. the
    // first-time path, the most work a request can be.
    const scope = { ...t, tag: 'lc' };
    await seedOperators(tb.store.db, scope, 1, o.lifecycles);
    const people = await seededOperators(tb.store.db, scope, o.lifecycles);

    let next = 0;
    let requestErrors = 0;
    const cpu0 = { timebox: process.cpuUsage(), postgres: await clusterCpuMs(o.postmaster) };
    const started = Date.now();
    const worker = async () => {
      for (let i = next++; i < people.length; i = next++) {
        const who = people[i]!;
        try {
          await requestActivated(tb, t, who, { durationSeconds, reason: 'benchmark lifecycle' });
        } catch (err) {
          if (requestErrors++ === 0) say(`lifecycle request failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
    const requestsDone = Date.now();
    const requested = o.lifecycles - requestErrors;
    say(`lifecycles: ${requested} requested and activated in ${requestsDone - started} ms; waiting for expiry`);

    let timedOut = false;
    for (;;) {
      const r = await sql<{ n: string }>`
        SELECT count(*) AS n FROM grants WHERE tenant_id = ${t.tenantId}::uuid AND state IN ('revoked', 'denied', 'cancelled', 'expired')`.execute(tb.store.db);
      if (Number(r.rows[0]!.n) >= requested) break;
      if (Date.now() - started > o.timeoutMs) {
        timedOut = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const timeboxCpu = process.cpuUsage(cpu0.timebox);
    const postgresCpuMs = (await clusterCpuMs(o.postmaster)) - cpu0.postgres;

    const s = await sql<{ done: string; other: string; first_ms: number | null; last_ms: number | null }>`
      SELECT count(*) FILTER (WHERE state = 'revoked' AND end_reason = 'expired') AS done,
             count(*) FILTER (WHERE NOT (state = 'revoked' AND end_reason = 'expired')) AS other,
             (extract(epoch FROM min(revoked_at)) * 1000)::float8 AS first_ms,
             (extract(epoch FROM max(revoked_at)) * 1000)::float8 AS last_ms
      FROM grants WHERE tenant_id = ${t.tenantId}::uuid`.execute(tb.store.db);
    const row = s.rows[0]!;
    const done = Number(row.done);
    const spanMs = (row.last_ms ?? 0) - (row.first_ms ?? 0);
    return {
      lifecycles: done,
      concurrency: o.concurrency,
      durationSeconds,
      perSecond: spanMs > 0 ? ((done - 1) * 1000) / spanMs : Number.NaN,
      wallPerSecond: row.last_ms ? (done * 1000) / (row.last_ms - started) : Number.NaN,
      requestPerSecond: (requested * 1000) / (requestsDone - started),
      endedOtherwise: Number(row.other),
      requestErrors,
      timedOut,
      sealLagMs: tb.audit.sealer.stats().lagMs,
      cpuMsPerLifecycle: { timebox: (timeboxCpu.user + timeboxCpu.system) / 1000 / requested, postgres: postgresCpuMs / requested },
    };
  } finally {
    await tb.close();
  }
}

/** pgbench simple-update (-N), scale 1, 4 clients, over TCP as the cluster's admin; argv only. */
export async function runPgbench(databaseUrl: string, postmaster: number, seconds: number): Promise<PgbenchResult> {
  const u = new URL(databaseUrl);
  const conn = ['-h', u.hostname, '-p', u.port, '-U', decodeURIComponent(u.username)];
  const db = decodeURIComponent(u.pathname.slice(1));
  const opts = {
    env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) },
    timeout: (seconds + 120) * 1000,
    maxBuffer: 4 * 1024 * 1024,
  };
  const bin = process.env.BENCH_PGBENCH ?? 'pgbench';
  await run(bin, ['-i', '-q', '-s', '1', ...conn, db], opts);
  const before = { client: await reapedChildrenCpuMs(), postgres: await clusterCpuMs(postmaster) };
  const { stdout } = await run(bin, ['-N', '-c', '4', '-j', '2', '-T', String(seconds), ...conn, db], opts);
  const clientMs = (await reapedChildrenCpuMs()) - before.client;
  const postgresMs = (await clusterCpuMs(postmaster)) - before.postgres;
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  const n = /number of transactions actually processed: (\d+)/.exec(stdout);
  if (!m || !n) throw new Error(`could not read tps from pgbench output: ${stdout.slice(-500)}`);
  const transactions = Math.max(Number(n[1]), 1);
  return { tps: Number(m[1]), cpuMsPerTransaction: { client: clientMs / transactions, postgres: postgresMs / transactions } };
}
