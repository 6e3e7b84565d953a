/**
 * Starts a throwaway PostgreSQL cluster for tests: fresh data directory, random admin password,
 * loopback only, a free port. Real PostgreSQL, not a mock: connectors must be proven against it.
 *
 * initdb/pg_ctl refuse to run as root, so as root every command runs through
 * `runuser -u postgres --`; as any other user they run directly.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface PgCluster {
  port: number;
  /** Superuser `admin` over TCP with scram, database `postgres`. */
  adminUrl: string;
  urlFor(database: string): string;
  /** The server's log (statements, connection errors) for tests that look at what reached it. */
  logFile: string;
  /** Creates a database owned by admin; returns its admin URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast: sessions are terminated, like an outage seen from clients). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops and removes everything on disk. */
  destroy(): Promise<void>;
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** argv for a command that must run as the postgres OS user. */
function pgArgv(cmd: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

async function runPg(cmd: string, args: string[], cwd: string) {
  const [file, argv] = pgArgv(cmd, args);
  // cwd: the postgres user may not be allowed into the caller's working directory.
  return run(file, argv, { cwd, timeout: 60_000 });
}

/**
 * Clusters still running when the process exits (a crashed or interrupted test run) are stopped
 * and removed synchronously, so no postgres is left behind holding a port and a temp dir.
 */
const live = new Map<string, string>(); // base dir -> data dir
let exitHookInstalled = false;
function forgetOnExit(dir: string, dataDir: string) {
  live.set(dir, dataDir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [base, data] of live) {
      try {
        const [file, argv] = pgArgv('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
        execFileSync(file, argv, { cwd: base, stdio: 'ignore', timeout: 10_000 });
      } catch {
        // already stopped
      }
      rmSync(base, { recursive: true, force: true });
    }
  });
}

/** Throws a message that says what to install when PostgreSQL server binaries are missing. */
export async function assertPostgresAvailable(): Promise<void> {
  const missing: string[] = [];
  for (const bin of ['initdb', 'pg_ctl', 'postgres']) {
    try {
      await run(bin, ['--version'], { timeout: 10_000 });
    } catch {
      missing.push(bin);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `PostgreSQL server binaries not found on PATH: ${missing.join(', ')}. ` +
        'Install PostgreSQL 15 (Debian: apt-get install postgresql-15) and put its bin directory ' +
        '(/usr/lib/postgresql/15/bin) on PATH.',
    );
  }
  if (asRoot) {
    try {
      await run('id', ['-u', 'postgres'], { timeout: 10_000 });
    } catch {
      throw new Error('Running as root but there is no "postgres" OS user to run initdb/pg_ctl as.');
    }
  }
}

/** A port the OS says is free right now (bind 0, read, release). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function postgresIds(): Promise<{ uid: number; gid: number } | null> {
  if (!asRoot) return null;
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

/** Settings appended to postgresql.conf: no shell quoting of paths through `pg_ctl -o`. */
function serverSettings(port: number, socketDir: string, durable: boolean): string {
  const quoted = `'${socketDir.replace(/'/g, "''")}'`;
  return [
    '',
    '# timebox test harness',
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = ${quoted}`,
    // Throwaway data: durability buys nothing in tests and costs time on a shared machine.
    // Benchmarks keep PostgreSQL's production defaults (every commit flushed).
    ...(durable ? [] : ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off']),
    "password_encryption = 'scram-sha-256'",
    // Each server keeps its whole pool open (10 by default); tests run several servers at once.
    'max_connections = 300',
    '',
  ].join('\n');
}

/**
 * `durable`: fsync, synchronous_commit and full_page_writes at PostgreSQL's defaults (on), as in
 * production; off otherwise (tests).
 */
export async function startPostgres(opts: { name?: string; durable?: boolean } = {}): Promise<PgCluster> {
  await assertPostgresAvailable();
  const safeName = (opts.name ?? 'pg').replace(/[^a-zA-Z0-9_-]/g, '_');
  const dir = await mkdtemp(path.join(os.tmpdir(), `timebox-${safeName}-`));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const pwFile = path.join(dir, 'pwfile');
  const password = randomBytes(18).toString('hex');
  const ids = await postgresIds();

  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (ids) {
      await chown(dir, ids.uid, ids.gid);
      await chown(pwFile, ids.uid, ids.gid);
    }
    await runPg(
      'initdb',
      [
        '-D', dataDir,
        '-U', 'admin',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        `--pwfile=${pwFile}`,
        '--no-sync',
        '--encoding=UTF8',
        '--locale=C',
      ],
      dir,
    );
    await rm(pwFile, { force: true });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`initdb failed for test cluster "${safeName}": ${explain(err)}`, { cause: err });
  }

  let port = 0;
  let running = false;

  const pgCtlStart = async () => {
    await runPg('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start'], dir);
    running = true;
  };

  // The free port may be taken between probing and binding: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 5 && !running; attempt++) {
    port = await freePort();
    await appendFile(path.join(dataDir, 'postgresql.conf'), serverSettings(port, dataDir, opts.durable === true));
    try {
      await pgCtlStart();
    } catch (err) {
      lastError = err;
    }
  }
  if (!running) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL test cluster "${safeName}" did not start: ${explain(lastError)}\n${log.slice(-2000)}`);
  }

  forgetOnExit(dir, dataDir);
  const urlFor = (database: string) =>
    `postgresql://admin:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    if (!running) return;
    await runPg('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop'], dir);
    running = false;
  };

  return {
    port,
    adminUrl: urlFor('postgres'),
    urlFor,
    logFile,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: urlFor('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return urlFor(name);
    },
    stop,
    async start() {
      if (!running) await pgCtlStart();
    },
    async destroy() {
      try {
        await stop('immediate');
      } finally {
        live.delete(dir);
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

function explain(err: unknown): string {
  if (err && typeof err === 'object' && 'stderr' in err && typeof err.stderr === 'string' && err.stderr) {
    return err.stderr.trim();
  }
  return err instanceof Error ? err.message : String(err);
}
