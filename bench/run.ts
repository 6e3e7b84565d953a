/**
 * `npm run bench`: expiry lag, a same-second burst of expiries, full lifecycles per second, API
 * latency at a steady 500 calls/s (list / request / approve), Timebox's overhead on Active Directory
 * grants (real Samba DC) and on MariaDB grants (real MariaDB, beside a bare mysql2 script),
 * offboarding (disable to last grant revoked), an agent fleet holding long polls, restart to ready
 * with a million active grants (compiled and through tsx, PostgreSQL and PGlite) and the endpoint
 * agent's start, the SSH gateway against sshd direct (throughput, keystroke latency, memory with
 * recorded sessions), printed as one markdown table (targets beside the figures) and saved as
 * bench/results/latest.json.
 * Not a test: a missed target is reported, never asserted. The exit code is non-zero only when a
 * benchmark could not run at all, so a broken benchmark fails CI and a slow machine does not.
 *
 * BENCH_QUICK=1 scales every count and duration down about 10x (about 4 minutes); BENCH_SMOKE=1
 * scales them down further, only to show that every benchmark still runs (CI, about 2 minutes).
 * BENCH_ONLY=restart,agent runs only the sections named by those words.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED_CLI } from '../scripts/bundle-server.js';
import { buildOnce } from '../test/harness/build.js';
import { startPostgres, type PgCluster } from '../test/harness/postgres.js';
import { measureAdOverhead } from './ad-overhead.js';
import { measureAgentFleet } from './agent-fleet.js';
import { measureApiLoad } from './api-load.js';
import { BURST_WINDOW_MS, measureBurst, type BurstResult } from './burst.js';
import { measureExpiryLag, type ExpiryLagResult } from './expiry-lag.js';
import { measureGateway } from './gateway.js';
import { measureLifecycles, runPgbench } from './lifecycles.js';
import { measureMariadbOverhead } from './mariadb-overhead.js';
import { measureAgentStart } from './agent-start.js';
import { measureMillionGrants, type MillionResult, type StartMode } from './million-grants.js';
import { measureOffboarding } from './offboarding.js';
import { say } from './setup.js';
import { postmasterPid } from './process-cpu.js';
import { errorRow, formatNumber, renderMarkdown, row, type Row } from './table.js';

// BENCH_SMOKE=1 (CI) only shows that every benchmark still runs: the smallest counts that
// exercise each path. Its figures mean little; quick and full runs give the figures.
const smoke = process.env.BENCH_SMOKE === '1';
const quick = smoke || process.env.BENCH_QUICK === '1';
const level = smoke ? 'smoke' : quick ? 'quick' : 'full';
/** full, quick (about 10x smaller), smoke (smaller again). */
const pick = <T>(full: T, quickValue: T, smokeValue: T = quickValue): T => (smoke ? smokeValue : quick ? quickValue : full);
const scale = {
  lagGrants: pick(10_000, 1_000, 200),
  lagWindowMs: pick(60_000, 6_000, 2_000),
  // Time to seed, after the tenant is set up, before the first expiry; seeding 10,000 takes ~1-3 s.
  lagLeadMs: pick(10_000, 3_000, 2_000),
  lagGraceMs: pick(120_000, 60_000),
  // The issue's burst is 10,000; the quick run takes 1,000 and scales the goal with the count.
  burstGrants: pick(10_000, 1_000, 200),
  burstLeadMs: pick(10_000, 3_000, 2_000),
  burstGraceMs: pick(120_000, 15_000),
  // The issue's rate; BENCH_API_RATE=<calls/s> probes another (what a busy machine still sustains).
  apiRate: Number(process.env.BENCH_API_RATE ?? 500),
  // Quick: 3 s of the rate, enough to see it work, not to measure it well.
  apiMs: pick(30_000, 3_000, 1_000),
  apiWarmupMs: pick(2_000, 2_000, 500),
  apiWarmupRate: 100,
  apiOneAtATime: pick(200, 60, 10),
  lifecycles: pick(2_000, 200, 50),
  concurrency: 8,
  pgbenchSeconds: pick(20, 5, 2),
  millionGrants: pick(1_000_000, 100_000, 2_000),
  // At least one sweep (TIMEBOX_SWEEP_MS defaults to 5 s) in quick and full runs; smoke only starts.
  idleMs: pick(10_000, 6_000, 1_000),
  restarts: pick(3, 2, 1),
  agentStarts: pick(5, 2, 1),
  adRoundTrips: pick(200, 20, 5),
  // Smoke: one concurrency shows the benchmark runs; 1 in flight takes the fewest round trips.
  adConcurrency: pick([1, 4], [1, 4], [1]),
  mariadbRoundTrips: pick(200, 40, 10),
  offboardingRounds: pick(5, 2, 1),
  fleetAgents: pick(10_000, 1_000, 200),
  fleetIdleMs: pick(20_000, 5_000, 2_000),
  fleetConnectSpreadMs: pick(10_000, 10_000, 2_000),
  gatewayFileMb: pick(100, 20, 5),
  gatewayCatRounds: pick(3, 1),
  gatewayKeystrokes: pick(1_000, 200, 50),
  gatewaySessions: pick(100, 20, 5),
};

const rows: Row[] = [];
const details: Record<string, unknown> = {};
let failures = 0;

// Leftovers on any exit: the harness stops its clusters on 'exit' itself; signals must exit
// normally for that (and for the server child processes) to happen.
const tmpDirs: string[] = [];
process.once('exit', () => tmpDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** BENCH_ONLY=restart,agent runs only the sections whose names contain one of the words. */
const only = process.env.BENCH_ONLY?.toLowerCase().split(',').filter(Boolean) ?? [];

async function section(name: string, store: string, fn: () => Promise<void>) {
  if (only.length && !only.some((w) => `${name} ${store}`.toLowerCase().includes(w))) return;
  say(`${name} (${store}): starting`);
  try {
    await fn();
  } catch (err) {
    failures++;
    say(`${name} (${store}) failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    rows.push(errorRow(name, store, err));
  }
}

function lagRows(r: ExpiryLagResult, withTarget: boolean) {
  const label = r.store === 'pglite' ? 'PGlite' : 'PostgreSQL';
  const fig = `Expiry lag (${r.grants.toLocaleString('en-US')} grants / ${scale.lagWindowMs / 1000} s)`;
  rows.push(row(`${fig} p50`, label, r.lagMs.p50, 'ms'));
  const goal = r.store === 'pglite' ? 100 : 50;
  rows.push(row(`${fig} p99`, label, r.lagMs.p99, 'ms', withTarget ? { text: `< ${goal} ms`, ok: (v) => v < goal } : undefined));
  rows.push(row(`${fig} max`, label, r.lagMs.max, 'ms'));
  rows.push(row('Grants revoked (and disabled on the target)', label, r.revoked - r.targetAccountsStillEnabled, '', {
    text: `all ${r.grants.toLocaleString('en-US')}`,
    ok: (v) => v === r.grants,
  }));
}

/**
 * Goal for 10,000 grants: 10 s on PostgreSQL, 20 s on PGlite. A smaller burst scales the time
 * after the second, not the second itself: its grants still end over a whole second, so the last
 * one cannot be revoked before it ends.
 */
function burstRows(r: BurstResult) {
  const label = r.store === 'pglite' ? 'PGlite' : 'PostgreSQL';
  const fullMs = r.store === 'pglite' ? 20_000 : 10_000;
  const goalMs = BURST_WINDOW_MS + (fullMs - BURST_WINDOW_MS) * (r.grants / 10_000);
  const n = r.grants.toLocaleString('en-US');
  const scaled = r.grants === 10_000 ? '' : ` (scaled down from 10,000, goal with it)`;
  const fig = `Burst: ${n} grants ending in the same second, to the last verified revocation${scaled}`;
  const goal = { text: `< ${formatNumber(goalMs / 1000)} s`, ok: (v: number) => v < goalMs / 1000 };
  if (r.timedOut) rows.push({ ...row(fig, label, null, 's'), measured: `> ${formatNumber((BURST_WINDOW_MS + scale.burstGraceMs) / 1000)} s (gave up)`, target: goal.text, ok: false });
  else rows.push(row(fig, label, r.drainMs / 1000, 's', goal));
  rows.push(row(`Burst: verified revocations/s`, label, r.perSecond, '/s'));
  rows.push(row(`Burst: slowest plain read meanwhile (a count of the grants, once a second)`, label, r.slowestReadMs, 'ms'));
  rows.push(row(`Burst: longest event-loop stall in the server process meanwhile`, label, r.longestStallMs, 'ms'));
  rows.push(row(`Burst: server process CPU per verified revocation${r.store === 'pglite' ? ' (database included)' : ''}`, label, r.cpuMsPerRevocation, 'ms'));
  if (r.store === 'postgres') rows.push(row('Burst: database transactions per verified revocation (read-only included)', label, r.commitsPerRevocation, ''));
  rows.push(row(`Burst: grants not revoked and verified ${formatNumber((BURST_WINDOW_MS + scale.burstGraceMs) / 1000)} s after the second`, label, r.notRevoked, '', { text: '0', ok: (v) => v === 0 }));
}

function restartRows(r: MillionResult) {
  const label = r.store === 'pglite' ? 'PGlite' : 'PostgreSQL';
  const ready = { text: '< 1,500 ms', ok: (v: number) => v < 1_500 };
  const rss = { text: '< 250 MB', ok: (v: number) => v < 250 };
  for (const s of r.samples) {
    const n = `${s.grants.toLocaleString('en-US')} active grants`;
    if (s.mode === 'compiled') {
      rows.push(row(`Restart to ready, ${n} (compiled, npm start)`, label, s.readyMs, 'ms', ready));
      rows.push(row(`CPU time to ready, ${n} (compiled)`, label, s.cpuReadyMs, 'ms'));
      rows.push(row(`RSS when ready, ${n}`, label, s.rssReadyMb, 'MB', rss));
      rows.push(row(`RSS after ${scale.idleMs / 1000} s idle, ${n}`, label, s.rssIdleMb, 'MB', rss));
    } else {
      rows.push(row(`Restart to ready, ${n} (through tsx, for comparison)`, label, s.readyMs, 'ms'));
      rows.push(row(`CPU time to ready, ${n} (through tsx; tsx's own process not counted)`, label, s.cpuReadyMs, 'ms'));
    }
  }
  const compiled = r.samples.filter((s) => s.mode === 'compiled');
  if (compiled.length === 2) {
    rows.push(row('Restart growth with the grants (loaded - empty, compiled)', label, compiled[1]!.readyMs - compiled[0]!.readyMs, 'ms', { text: '< 300 ms (flat)', ok: (v) => v < 300 }));
  }
}

async function main() {
  const started = Date.now();
  let cluster: PgCluster | null = null;
  const base = await mkdtemp(path.join(os.tmpdir(), 'timebox-bench-'));
  tmpDirs.push(base);
  try {
    // Production settings: every commit flushed to disk (fsync, synchronous_commit on).
    cluster = await startPostgres({ name: 'bench', durable: true });
    const pg = cluster;

    // Production processes run compiled JavaScript: built once here, from this checkout's source,
    // for every section that starts a server or agent process (the API load, restarts, agents).
    let modes: StartMode[] = [{ kind: 'tsx' }];
    let dist: string | null = null;
    await section('Build for the API load, restart and agent start', 'tsc -p tsconfig.build.json', async () => {
      // Emit only: types are checked by `npm run typecheck` (and `npm test`); the JavaScript is the same.
      dist = await buildOnce('bench-dist', { typecheck: false });
      // The tsx comparison only in the full run: quick and smoke runs keep the production mode.
      modes = [{ kind: 'compiled', mainJs: path.join(dist, BUNDLED_CLI) }, ...(quick ? [] : [{ kind: 'tsx' } as const])];
    });

    await section('Expiry lag', 'PGlite', async () => {
      const r = await measureExpiryLag({ store: 'pglite', dataDir: path.join(base, 'pglite'), grants: scale.lagGrants, windowMs: scale.lagWindowMs, leadMs: scale.lagLeadMs, graceMs: scale.lagGraceMs });
      details.expiryLagPglite = r;
      lagRows(r, true);
    });
    await section('Expiry lag', 'PostgreSQL', async () => {
      const r = await measureExpiryLag({ store: 'postgres', databaseUrl: await pg.createDatabase('expiry_lag'), grants: scale.lagGrants, windowMs: scale.lagWindowMs, leadMs: scale.lagLeadMs, graceMs: scale.lagGraceMs });
      details.expiryLagPostgres = r;
      lagRows(r, true);
    });

    await section('Burst', 'PGlite', async () => {
      const r = await measureBurst({ store: 'pglite', dataDir: path.join(base, 'burst-pglite'), grants: scale.burstGrants, leadMs: scale.burstLeadMs, graceMs: scale.burstGraceMs });
      details.burstPglite = r;
      burstRows(r);
    });
    await section('Burst', 'PostgreSQL', async () => {
      const r = await measureBurst({ store: 'postgres', databaseUrl: await pg.createDatabase('burst'), grants: scale.burstGrants, leadMs: scale.burstLeadMs, graceMs: scale.burstGraceMs });
      details.burstPostgres = r;
      burstRows(r);
    });

    await section('Lifecycles per second', 'PostgreSQL', async () => {
      const postmaster = await postmasterPid(pg);
      const r = await measureLifecycles({ databaseUrl: await pg.createDatabase('lifecycles'), postmaster, lifecycles: scale.lifecycles, concurrency: scale.concurrency, timeoutMs: quick ? 60_000 : 300_000 });
      const bench = await runPgbench(await pg.createDatabase('pgbench'), postmaster, scale.pgbenchSeconds);
      details.lifecycles = { ...r, pgbench: bench };
      const label = `Full lifecycles/s (${r.lifecycles.toLocaleString('en-US')}, ${r.concurrency} in flight)`;
      rows.push(row(label, 'PostgreSQL', r.perSecond, '/s'));
      rows.push(row(`pgbench simple-update (scale 1, 4 clients, ${scale.pgbenchSeconds} s)`, 'PostgreSQL', bench.tps, 'tps'));
      rows.push(row('Lifecycles / pgbench tps', 'PostgreSQL', r.perSecond / bench.tps, '', { text: '≥ 0.10', ok: (v) => v >= 0.1 }));
      // Where the time goes: both runs are CPU-bound on the same cores, so the ratio above is about
      // pgbench's CPU per transaction over a lifecycle's.
      const lc = r.cpuMsPerLifecycle;
      const tx = bench.cpuMsPerTransaction;
      rows.push({ ...row('CPU per lifecycle: Timebox (Node) / PostgreSQL', 'PostgreSQL', null, ''), measured: `${formatNumber(lc.timebox)} / ${formatNumber(lc.postgres)} ms` });
      rows.push({ ...row('CPU per pgbench transaction: pgbench / PostgreSQL', 'PostgreSQL', null, ''), measured: `${formatNumber(tx.client)} / ${formatNumber(tx.postgres)} ms` });
      rows.push(row('CPU per pgbench transaction ÷ CPU per lifecycle', 'PostgreSQL', (tx.client + tx.postgres) / (lc.timebox + lc.postgres), ''));
      // Cores kept busy: a run near the machine's core count is bound by CPU, one below it by
      // waiting (pgbench's 4 clients wait for their commits to be flushed).
      const cores = { lifecycles: ((lc.timebox + lc.postgres) * r.wallPerSecond) / 1000, pgbench: ((tx.client + tx.postgres) * bench.tps) / 1000 };
      rows.push({ ...row(`Cores busy (of ${os.cpus().length}): lifecycles / pgbench`, 'PostgreSQL', null, ''), measured: `${formatNumber(cores.lifecycles)} / ${formatNumber(cores.pgbench)}` });
      rows.push(row('Lifecycles ended other than revoked-on-expiry', 'PostgreSQL', r.endedOtherwise + r.requestErrors, '', { text: '0', ok: (v) => v === 0 }));
      rows.push(row('Audit seal lag p99 (event written -> sealed, during the lifecycles)', 'PostgreSQL', r.sealLagMs.p99 ?? Number.NaN, 'ms', { text: '< 1,000 ms', ok: (v) => v < 1_000 }));
    });

    await section('API load', 'PostgreSQL', async () => {
      const server: StartMode = dist ? { kind: 'compiled', mainJs: path.join(dist, BUNDLED_CLI) } : { kind: 'tsx' };
      const r = await measureApiLoad({ databaseUrl: await pg.createDatabase('api_load'), rate: scale.apiRate, durationMs: scale.apiMs, warmupMs: scale.apiWarmupMs, warmupRate: scale.apiWarmupRate, oneAtATimeCalls: scale.apiOneAtATime, server });
      details.apiLoad = r;
      const fig = `API at ${r.rate} calls/s for ${r.durationSeconds} s (open loop; 60 % list, 20 % request, 20 % approve by another person), server process (${server.kind === 'compiled' ? 'compiled, npm start' : 'through tsx'})`;
      rows.push(row(`${fig}, p50`, 'PostgreSQL', r.latencyMs.p50, 'ms'));
      rows.push(row(`${fig}, p99`, 'PostgreSQL', r.latencyMs.p99, 'ms', { text: '< 15 ms', ok: (v) => v < 15 }));
      const k = r.byKindMs;
      rows.push({ ...row('API p99 by call: list / request / approve', 'PostgreSQL', null, ''), measured: `${formatNumber(k.list.p99)} / ${formatNumber(k.request.p99)} / ${formatNumber(k.approve.p99)} ms` });
      rows.push(row('API answers/s achieved (first send to last answer)', 'PostgreSQL', r.achievedPerSecond, '/s', { text: `≥ ${formatNumber(r.rate * 0.98)} /s`, ok: (v) => v >= r.rate * 0.98 }));
      rows.push(row('API answers other than 2xx', 'PostgreSQL', r.non2xx, '', { text: '0', ok: (v) => v === 0 }));
      rows.push(row('API load generator lag p99 (actual send behind schedule)', 'PostgreSQL', r.generatorLagMs.p99, 'ms', { text: '< 5 ms (not the bottleneck)', ok: (v) => v < 5 }));
      rows.push(row('API server process CPU during the run', 'PostgreSQL', r.serverCores, 'cores'));
      rows.push(row('API server process CPU per call (PostgreSQL\'s own not counted)', 'PostgreSQL', r.serverCpuMsPerCall, 'ms'));
      const a = r.oneAtATime;
      const alone = `API one call at a time (${a.approve.calls} of each, before the load): list / request / approve`;
      rows.push({ ...row(`${alone}, latency p50`, 'PostgreSQL', null, ''), measured: `${formatNumber(a.list.latencyMs.p50)} / ${formatNumber(a.request.latencyMs.p50)} / ${formatNumber(a.approve.latencyMs.p50)} ms` });
      rows.push({ ...row(`${alone}, server CPU per call`, 'PostgreSQL', null, ''), measured: `${formatNumber(a.list.serverCpuMs)} / ${formatNumber(a.request.serverCpuMs)} / ${formatNumber(a.approve.serverCpuMs)} ms` });
    });

    await section('AD JIT grant + revoke', 'PostgreSQL', async () => {
      const rs = await measureAdOverhead({ databaseUrl: await pg.createDatabase('ad_overhead'), roundTrips: scale.adRoundTrips, concurrency: scale.adConcurrency });
      details.adOverhead = rs;
      for (const r of rs) {
        const fig = `AD JIT grant + revoke round trips/s (Samba DC, ${r.concurrency} in flight)`;
        rows.push(row(`${fig}, through Timebox`, 'PostgreSQL', r.timebox.perSecond, '/s'));
        rows.push(row(`${fig}, same LDAP operations direct`, 'PostgreSQL', r.direct.perSecond, '/s'));
        rows.push(row(`Timebox overhead on AD round trips, ${r.concurrency} in flight`, 'PostgreSQL', r.overheadPct, '%', { text: '≤ 20 %', ok: (v) => v <= 20 }));
      }
    });

    // The embedded store (the default install) and PostgreSQL: the store is most of the difference.
    for (const store of ['PGlite', 'PostgreSQL'] as const) {
      await section('MariaDB JIT grant + revoke', store, async () => {
        const databaseUrl = store === 'PostgreSQL' ? await pg.createDatabase('mariadb_overhead') : undefined;
        const r = await measureMariadbOverhead({ databaseUrl, roundTrips: scale.mariadbRoundTrips });
        details[`mariadbOverhead${store}`] = r;
        const fig = `MariaDB JIT grant + revoke round trips/s (${r.roundTrips} each, alternating blocks)`;
        rows.push(row(`${fig}, through Timebox`, store, r.timebox.perSecond, '/s'));
        rows.push(row(`${fig}, same statements from bare mysql2`, store, r.direct.perSecond, '/s'));
        rows.push(row(`${fig}, the MariaDB connector alone (no store)`, store, r.connector.perSecond, '/s'));
        // The goal as the issue states it: the whole lifecycle through Timebox. The connector's row
        // splits the difference: the rest is the store's durable bookkeeping of a lifecycle.
        rows.push(row('MariaDB: bare mysql2 time ÷ the whole lifecycle through Timebox', store, r.ratio, '', { text: '≥ 0.8', ok: (v) => v >= 0.8 }));
        rows.push(row('MariaDB: bare mysql2 time ÷ the connector alone, statement for statement (the rest is the store)', store, r.connectorRatio, ''));
      });
    }

    await section('Offboarding', 'PostgreSQL', async () => {
      const r = await measureOffboarding({ databaseUrl: await pg.createDatabase('offboarding'), grants: 5, rounds: scale.offboardingRounds, timeoutMs: 60_000 });
      details.offboarding = r;
      rows.push(row(`Offboarding: disable to last of ${r.grants} grants revoked, worst of ${r.rounds}`, 'PostgreSQL', r.worstSeconds, 's', { text: '< 5 s', ok: (v) => v < 5 }));
      rows.push(row('Offboarded grants not revoked', 'PostgreSQL', r.notRevoked, '', { text: '0', ok: (v) => v === 0 }));
    });

    await section('Agent fleet', 'PostgreSQL', async () => {
      const r = await measureAgentFleet({ databaseUrl: await pg.createDatabase('agent_fleet'), agents: scale.fleetAgents, idleMs: scale.fleetIdleMs, connectSpreadMs: scale.fleetConnectSpreadMs, pushTimeoutMs: 60_000 });
      details.agentFleet = r;
      const n = `${r.agents.toLocaleString('en-US')} agents holding signed long polls`;
      rows.push(row(`Agent fleet idle: server CPU, ${n}`, 'PostgreSQL', r.idleCores, 'cores', { text: '< 1 core', ok: (v) => v < 1 }));
      rows.push(row(`Agent fleet idle: the load generator's CPU (its own process, for scale)`, 'PostgreSQL', r.generatorIdleCores, 'cores'));
      rows.push(row(`Agent fleet idle: database transactions/s (all of the server's work), ${n}`, 'PostgreSQL', r.idleTransactionsPerSecond, '/s'));
      rows.push(row(`Desired-state push to every agent, p50`, 'PostgreSQL', r.pushMs.p50, 'ms'));
      rows.push(row(`Desired-state push to every agent, p99`, 'PostgreSQL', r.pushMs.p99, 'ms', { text: '< 2,000 ms', ok: (v) => v < 2_000 }));
      rows.push(row('Agents without their new state after 60 s', 'PostgreSQL', r.missed, '', { text: '0', ok: (v) => v === 0 }));
      rows.push(row(`Server RSS, ${n}`, 'PostgreSQL', r.rssMb, 'MB', { text: '< 1,024 MB', ok: (v) => v < 1_024 }));
    });

    await section('SSH gateway', 'PostgreSQL', async () => {
      const r = await measureGateway({
        databaseUrl: await pg.createDatabase('gateway'),
        fileMb: scale.gatewayFileMb,
        catRounds: scale.gatewayCatRounds,
        keystrokes: scale.gatewayKeystrokes,
        sessions: scale.gatewaySessions,
      });
      details.gateway = r;
      const file = `${r.fileMb} MB file${quick ? ` (${level}; full: 100 MB)` : ''}`;
      rows.push(row(`SSH gateway: cat of a ${file}, sshd direct (system ssh)`, 'PostgreSQL', r.direct.mbPerSecond, 'MB/s'));
      rows.push(row(`SSH gateway: the same through the gateway (recorded)`, 'PostgreSQL', r.gateway.mbPerSecond, 'MB/s'));
      rows.push(row(`SSH gateway: throughput through the gateway ÷ direct (median of ${r.catRounds})`, 'PostgreSQL', r.throughputRatio, '', { text: '≥ 0.5', ok: (v) => v >= 0.5 }));
      rows.push(row(`SSH gateway: keystroke round trip p99, direct (${r.keystrokeMs.direct.n} keystrokes, loopback)`, 'PostgreSQL', r.keystrokeMs.direct.p99, 'ms'));
      rows.push(row('SSH gateway: keystroke round trip p99, through the gateway', 'PostgreSQL', r.keystrokeMs.gateway.p99, 'ms'));
      rows.push(row('SSH gateway: added keystroke round trip p99', 'PostgreSQL', r.keystrokeMs.addedP99, 'ms', { text: '< 5 ms', ok: (v) => v < 5 }));
      rows.push(row('SSH gateway: RSS idle (timebox gateway through tsx)', 'PostgreSQL', r.rssMb.idle, 'MB'));
      rows.push(row(`SSH gateway: RSS with ${r.rssMb.sessions} concurrent recorded sessions${quick ? ` (${level}: not 100)` : ''}`, 'PostgreSQL', r.rssMb.withSessions, 'MB', { text: '< 512 MB', ok: (v) => v < 512 }));
      rows.push(row('SSH gateway: RSS per recorded session', 'PostgreSQL', r.rssMb.perSessionKb, 'KB'));
    });

    await section('Active grants at restart', 'PostgreSQL', async () => {
      const r = await measureMillionGrants({ where: { store: 'postgres', createDatabase: (n) => pg.createDatabase(n) }, grants: scale.millionGrants, idleMs: scale.idleMs, restarts: scale.restarts, modes });
      details.activeGrantsPostgres = r;
      restartRows(r);
    });
    await section('Active grants at restart', 'PGlite', async () => {
      const r = await measureMillionGrants({ where: { store: 'pglite', dataDir: (n) => path.join(base, n) }, grants: scale.millionGrants, idleMs: scale.idleMs, restarts: scale.restarts, modes });
      details.activeGrantsPglite = r;
      restartRows(r);
    });

    await section('Endpoint agent start', 'no database', async () => {
      const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
      const ways = [
        ...(dist ? [{ how: 'timebox-agent run (compiled)', argv: [path.join(dist, 'agent', 'program.js'), 'run'], cwd: root }] : []),
        { how: 'timebox-agent run (through tsx)', argv: ['--import', 'tsx', 'src/agent/program.ts', 'run'], cwd: root },
      ];
      const r = await measureAgentStart(ways, scale.agentStarts);
      details.agentStart = r;
      for (const s of r) {
        rows.push(row(`Agent start to enforcing, ${s.how}`, '—', s.startMs, 'ms'));
        rows.push(row(`Agent CPU time to enforcing, ${s.how}`, '—', s.cpuMs, 'ms'));
        rows.push(row(`Agent RSS when enforcing, ${s.how}`, '—', s.rssMb, 'MB'));
      }
    });
  } finally {
    await cluster?.destroy().catch((err: unknown) => say(`could not remove the PostgreSQL cluster: ${String(err)}`));
    await rm(base, { recursive: true, force: true });
  }

  // Load average: the machine may be shared, and these figures move with what else runs on it.
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const header =
    `Timebox benchmark (${level}), ${new Date().toISOString()}, ${os.cpus().length} CPUs, load ${load}, ` +
    `node ${process.version}, ${((Date.now() - started) / 1000).toFixed(0)} s; PostgreSQL: throwaway cluster at production durability (fsync, synchronous_commit on)`;
  process.stdout.write(`\n${header}\n\n${renderMarkdown(rows)}\n\n`);
  const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ header, level, scale, rows, details, failures }, null, 2)}\n`);
  say(`results written to ${path.relative(process.cwd(), out)}`);
}

main().then(
  () => process.exit(failures > 0 ? 1 : 0),
  (err: unknown) => {
    say(`benchmark aborted: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
