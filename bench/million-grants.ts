/**
 * A million active grants: restart-to-ready and memory must not depend on how many grants are
 * active (nothing per grant is loaded or kept in memory; see ARCHITECTURE.md, storage and scale).
 * The same measurements on an empty database are the baseline the loaded one is compared with.
 *
 * The server is measured as a separate process started the way an operator starts it: compiled
 * (`node dist/bundle/timebox.js serve`, what `npm start` and the service unit run) and, for
 * comparison, through the TypeScript loader (`tsx src/cli/main.ts serve`). Ready time is spawn to
 * the first 200 from /healthz: process start, module loading, the migration check and the first
 * database round trips. Each figure is the median of a few restarts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { startTimebox } from '../src/server/start.js';
import { freePort } from '../test/harness/postgres.js';
import { seedActiveGrants } from './seed.js';
import { benchLogger, say, serverEnv, setupTenant } from './setup.js';
import { percentile } from './stats.js';
import { cpuTimeMs } from './process-cpu.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** How the server process is started: compiled JavaScript, or the TypeScript source through tsx. */
export type StartMode = { kind: 'compiled'; mainJs: string } | { kind: 'tsx' };

export interface RestartSample {
  grants: number;
  mode: StartMode['kind'];
  /** Median of the restarts. */
  readyMs: number;
  readyRunsMs: number[];
  /** CPU time (user + system) the server used until ready, median: what a busy machine changes least. */
  cpuReadyMs: number;
  rssReadyMb: number;
  /** After idling (the scheduler sweeps every TIMEBOX_SWEEP_MS meanwhile). */
  rssIdleMb: number;
  /** The kernel's high-water mark of the server's RSS over its whole life. */
  rssPeakMb: number;
}

export interface MillionResult {
  store: 'postgres' | 'pglite';
  samples: RestartSample[];
  seedMs: number;
}

type Where = { store: 'postgres'; createDatabase: (name: string) => Promise<string> } | { store: 'pglite'; dataDir: (name: string) => string };

export async function measureMillionGrants(o: { where: Where; grants: number; idleMs: number; restarts: number; modes: StartMode[] }): Promise<MillionResult> {
  const empty = await prepare(o.where, 'restart_empty', 0);
  const loaded = await prepare(o.where, 'restart_loaded', o.grants);
  const samples: RestartSample[] = [];
  for (const db of [{ env: empty.env, grants: 0 }, { env: loaded.env, grants: o.grants }]) {
    for (const mode of o.modes) samples.push(await restarts(db.env, db.grants, mode, o.restarts, o.idleMs));
  }
  return { store: o.where.store, samples, seedMs: loaded.seedMs };
}

/** First start (migrations, first owner) in-process, the tenant via HTTP, then the bulk grants. */
async function prepare(where: Where, name: string, grants: number) {
  const env = serverEnv(where.store === 'postgres' ? { DATABASE_URL: await where.createDatabase(name) } : { TIMEBOX_DATA_DIR: where.dataDir(name) });
  const tb = await startTimebox({ env, logger: benchLogger() });
  let seedMs = 0;
  try {
    const t = await setupTenant(tb.url, tb.bootstrap, { maxDurationSeconds: 31 * 86400 });
    if (grants > 0) {
      const start = Date.now();
      let reported = 0;
      await seedActiveGrants(tb.store.db, {
        ...t,
        tag: 'm',
        count: grants,
        // Due in the future, so the restarted server has nothing to do but its sweeps.
        expiresFrom: new Date(Date.now() + 3600_000),
        spanMs: 30 * 86400_000,
        durationSeconds: 31 * 86400,
        chunk: where.store === 'pglite' ? 20_000 : 100_000,
        onProgress: (done) => {
          if (done - reported >= grants / 4 || done === grants) say(`${where.store}: seeded ${(reported = done).toLocaleString('en-US')} grants`);
        },
      });
      // Autovacuum would do this shortly after a real bulk load; without it the planner works
      // from empty-table statistics and the restart would measure that instead.
      await sql`ANALYZE`.execute(tb.store.db);
      seedMs = Date.now() - start;
    }
  } finally {
    await tb.close();
  }
  return { env: { ...env, TIMEBOX_LOG_LEVEL: 'warn' }, seedMs };
}

async function restarts(env: Record<string, string>, grants: number, mode: StartMode, n: number, idleMs: number): Promise<RestartSample> {
  const runs: { readyMs: number; cpuReadyMs: number; rssReadyMb: number }[] = [];
  let idle = { rss: Number.NaN, hwm: Number.NaN };
  for (let i = 0; i < n; i++) {
    // Memory after idling once per database and mode: the last restart.
    const r = await restart(env, mode, i === n - 1 ? idleMs : 0);
    runs.push(r);
    if (r.idle) idle = r.idle;
  }
  const readyRunsMs = runs.map((r) => Math.round(r.readyMs));
  const readyMs = percentile([...readyRunsMs].sort((a, b) => a - b), 50);
  const rssReadyMb = percentile(runs.map((r) => r.rssReadyMb).sort((a, b) => a - b), 50);
  const cpuReadyMs = percentile(runs.map((r) => r.cpuReadyMs).sort((a, b) => a - b), 50);
  say(`restart (${mode.kind}) with ${grants.toLocaleString('en-US')} grants: ready in ${readyRunsMs.join(', ')} ms (CPU ${cpuReadyMs} ms), RSS ${rssReadyMb.toFixed(0)} -> ${idle.rss.toFixed(0)} MB`);
  return { grants, mode: mode.kind, readyMs, readyRunsMs, cpuReadyMs, rssReadyMb, rssIdleMb: idle.rss, rssPeakMb: idle.hwm };
}

async function restart(env: Record<string, string>, mode: StartMode, idleMs: number) {
  const port = await freePort();
  // process.execPath + the script: the same node as this run, no shell, no PATH lookup.
  const script = mode.kind === 'compiled' ? [mode.mainJs, 'serve'] : [path.join(repoRoot, 'node_modules', '.bin', 'tsx'), 'src/cli/main.ts', 'serve'];
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, script, {
    cwd: repoRoot,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  // If this run dies (an error, Ctrl-C), neither tsx nor the server it started may outlive it.
  let pid: number | null = null;
  const killOnExit = () => {
    if (pid !== null) killPid(pid, 'SIGKILL');
    if (child.exitCode === null) killPid(child.pid!, 'SIGKILL');
  };
  process.once('exit', killOnExit);
  try {
    const readyMs = await waitHealthy(`http://127.0.0.1:${port}/healthz`, child, spawnedAt, () => stderr);
    pid = await serverPid(child.pid!);
    const cpuReadyMs = await cpuTimeMs(pid);
    const rssReadyMb = (await memory(pid)).rss;
    if (idleMs === 0) return { readyMs, cpuReadyMs, rssReadyMb, idle: null };
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    return { readyMs, cpuReadyMs, rssReadyMb, idle: await memory(pid) };
  } finally {
    await stopChild(child);
    process.removeListener('exit', killOnExit);
  }
}

/** Milliseconds from spawn to the first 200 from /healthz, polling every 20 ms. */
export async function waitHealthy(url: string, child: ChildProcess, since: number, stderr: () => string): Promise<number> {
  const deadline = since + 60_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) before it was ready: ${stderr().slice(-500)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - since;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the server was not ready within 60 s: ${stderr().slice(-500)}`);
}

/** tsx runs the server in a child node process (which has esbuild as its own child): the deepest node. */
async function serverPid(root: number): Promise<number> {
  let best = root;
  const walk = async (pid: number): Promise<void> => {
    for (const child of await childrenOf(pid)) {
      const comm = (await readFile(`/proc/${child}/comm`, 'utf8').catch(() => '')).trim();
      if (comm === 'node') best = child;
      await walk(child);
    }
  };
  await walk(root);
  return best;
}

async function childrenOf(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const out: number[] = [];
  for (const tid of tasks) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    out.push(...text.split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

async function memory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** SIGTERM (tsx passes it on and the server closes cleanly); SIGKILL to both if that hangs. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server = await serverPid(child.pid!).catch(() => null);
  child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref());
  if ((await Promise.race([exited, timer])) === 'timeout') {
    if (server && server !== child.pid) killPid(server, 'SIGKILL');
    child.kill('SIGKILL');
    await exited;
  }
}

function killPid(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
