/**
 * A million active grants: restart-to-ready and memory must not depend on how many grants are
 * active (nothing per grant is loaded or kept in memory; see ARCHITECTURE.md, storage and scale).
 * The same measurements on an empty database are the baseline the loaded one is compared with.
 *
 * The server is measured as a separate process started the way an operator starts it
 * (`tsx src/cli/main.ts serve`), so ready time includes process start, module loading, the
 * migration check and the first database round trips.
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

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface RestartSample {
  grants: number;
  dbSizeMb: number;
  readyMs: number;
  rssReadyMb: number;
  /** After idling (the scheduler sweeps every TIMEBOX_SWEEP_MS meanwhile). */
  rssIdleMb: number;
  /** The kernel's high-water mark of the server's RSS over its whole life. */
  rssPeakMb: number;
}

export interface MillionResult {
  empty: RestartSample;
  loaded: RestartSample;
  seedMs: number;
}

type CreateDatabase = (name: string) => Promise<string>;

export async function measureMillionGrants(o: { createDatabase: CreateDatabase; grants: number; idleMs: number }): Promise<MillionResult> {
  const empty = await prepare(o.createDatabase, 'restart_empty', 0);
  const loaded = await prepare(o.createDatabase, 'restart_loaded', o.grants);
  const emptySample = await restart(empty.env, 0, o.idleMs);
  const loadedSample = await restart(loaded.env, o.grants, o.idleMs);
  return { empty: emptySample, loaded: loadedSample, seedMs: loaded.seedMs };
}

/** First start (migrations, first owner) in-process, the tenant via HTTP, then the bulk grants. */
async function prepare(createDatabase: CreateDatabase, name: string, grants: number) {
  const url = await createDatabase(name);
  const env = serverEnv({ DATABASE_URL: url });
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
        chunk: 100_000,
        onProgress: (done) => {
          if (done - reported >= grants / 4 || done === grants) say(`seeded ${(reported = done).toLocaleString('en-US')} grants`);
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

async function restart(env: Record<string, string>, grants: number, idleMs: number): Promise<RestartSample> {
  const port = await freePort();
  const spawnedAt = performance.now();
  // process.execPath + tsx's CLI file: the same node as this run, no shell, no PATH lookup.
  const child = spawn(process.execPath, [path.join(repoRoot, 'node_modules', '.bin', 'tsx'), 'src/cli/main.ts', 'serve'], {
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
    const rssReadyMb = (await memory(pid)).rss;
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const after = await memory(pid);
    const dbSizeMb = await databaseSizeMb(env.DATABASE_URL!);
    say(`restart with ${grants.toLocaleString('en-US')} grants: ready in ${readyMs.toFixed(0)} ms, RSS ${rssReadyMb.toFixed(0)} -> ${after.rss.toFixed(0)} MB`);
    return { grants, dbSizeMb, readyMs, rssReadyMb, rssIdleMb: after.rss, rssPeakMb: after.hwm };
  } finally {
    await stopChild(child);
    process.removeListener('exit', killOnExit);
  }
}

/** Milliseconds from spawn to the first 200 from /healthz, polling every 50 ms. */
async function waitHealthy(url: string, child: ChildProcess, since: number, stderr: () => string): Promise<number> {
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
    await new Promise((resolve) => setTimeout(resolve, 50));
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

async function databaseSizeMb(url: string): Promise<number> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ b: string }>('SELECT pg_database_size(current_database()) AS b');
    return Number(r.rows[0]!.b) / 1024 / 1024;
  } finally {
    await client.end();
  }
}

/** SIGTERM (tsx passes it on and the server closes cleanly); SIGKILL to both if that hangs. */
async function stopChild(child: ChildProcess): Promise<void> {
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
