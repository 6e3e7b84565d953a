/**
 * Starts a throwaway MariaDB server for tests: fresh data directory, loopback only, a free port,
 * the event scheduler on, TLS with a certificate from a throwaway CA. Real MariaDB (Debian's
 * mariadb-server), not a mock. Every command is an argv array; nothing goes through a shell.
 *
 * As root the server runs as the `mysql` OS user (`--user=mysql`, files chowned to it).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from './postgres.js';

const run = promisify(execFile);
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export interface MariaDbServer {
  host: '127.0.0.1';
  port: number;
  /** Superuser `admin` (password over TCP, any host). */
  adminUser: string;
  adminPassword: string;
  /** PEM of the CA that signed the server certificate (for 127.0.0.1 and localhost). */
  caPem: string;
  /** The same CA as a file, for the `mariadb` command-line client. */
  caFile: string;
  /** A connection as admin (TLS verified), for setting up and inspecting. */
  admin(): Promise<mysql.Connection>;
  /** Stops the server and removes everything on disk. */
  destroy(): Promise<void>;
}

const live = new Map<string, ChildProcess>();
let exitHookInstalled = false;
function forgetOnExit(dir: string, child: ChildProcess) {
  live.set(dir, child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [base, proc] of live) {
      proc.kill('SIGKILL');
      rmSync(base, { recursive: true, force: true });
    }
  });
}

async function openssl(args: string[], cwd: string) {
  await run('openssl', args, { cwd, timeout: 60_000 });
}

/** A CA and a server certificate for 127.0.0.1 / localhost, signed by it. */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca-key.pem');
  const key = path.join(dir, 'server-key.pem');
  const csr = path.join(dir, 'server.csr');
  const cert = path.join(dir, 'server-cert.pem');
  const ext = path.join(dir, 'server.ext');
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=Timebox test CA'], dir);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1'], dir);
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  await openssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext], dir);
  return { ca, cert, key };
}

export async function assertMariaDbAvailable(): Promise<void> {
  for (const bin of ['mariadbd', 'mariadb-install-db', 'mariadb']) {
    try {
      await run('which', [bin], { timeout: 10_000 });
    } catch {
      throw new Error(`${bin} not found on PATH: install MariaDB (Debian: apt-get install mariadb-server mariadb-client)`);
    }
  }
}

/**
 * `durable`: every commit flushed to disk (InnoDB's default), as a production server runs; tests
 * leave it off for speed, benchmarks turn it on. The server's own time zone is not UTC, so
 * anything Timebox schedules must say its time zone and a test catches it when it does not.
 */
export async function startMariaDb(opts: { name?: string; durable?: boolean } = {}): Promise<MariaDbServer> {
  await assertMariaDbAvailable();
  const safeName = (opts.name ?? 'mariadb').replace(/[^a-zA-Z0-9_-]/g, '_');
  const dir = await mkdtemp(path.join(os.tmpdir(), `timebox-${safeName}-`));
  const dataDir = path.join(dir, 'data');
  const socket = path.join(dir, 'mysqld.sock');
  const logFile = path.join(dir, 'server.log');
  const adminPassword = randomBytes(18).toString('hex');
  let child: ChildProcess | undefined;
  try {
    const certs = await makeCertificates(dir);
    await mkdir(dataDir);
    const user = asRoot ? ['--user=mysql'] : [];
    if (asRoot) {
      const uid = Number((await run('id', ['-u', 'mysql'])).stdout.trim());
      const gid = Number((await run('id', ['-g', 'mysql'])).stdout.trim());
      for (const p of [dir, dataDir, certs.key, certs.cert, certs.ca]) await chown(p, uid, gid);
    }
    await run(
      'mariadb-install-db',
      ['--no-defaults', `--datadir=${dataDir}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db'],
      { cwd: dir, timeout: 120_000 },
    );
    const port = await freePort();
    child = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${dataDir}`,
        ...user,
        `--socket=${socket}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--pid-file=${path.join(dir, 'mysqld.pid')}`,
        `--log-error=${logFile}`,
        '--event-scheduler=ON',
        '--skip-name-resolve',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=16M',
        '--innodb-log-file-size=8M',
        `--innodb-flush-log-at-trx-commit=${opts.durable === true ? 1 : 0}`,
        '--default-time-zone=+03:00',
        '--performance-schema=OFF',
        `--ssl-ca=${certs.ca}`,
        `--ssl-cert=${certs.cert}`,
        `--ssl-key=${certs.key}`,
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    const proc = child;
    forgetOnExit(dir, proc);
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`mariadbd exited (${code})`))));
    exited.catch(() => {});
    // Ready when root answers on the socket (bounded: 60 s).
    let root: mysql.Connection | undefined;
    const deadline = Date.now() + 60_000;
    while (!root) {
      try {
        root = await Promise.race([mysql.createConnection({ socketPath: socket, user: 'root', password: '' }), exited]);
      } catch (err) {
        if (Date.now() > deadline || proc.exitCode !== null) {
          const log = await readFile(logFile, 'utf8').catch(() => '');
          throw new Error(`MariaDB test server did not start: ${(err as Error).message}\n${log.slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await root.query(`CREATE USER 'admin'@'%' IDENTIFIED BY ${mysql.escape(adminPassword)}`);
    await root.query(`GRANT ALL PRIVILEGES ON *.* TO 'admin'@'%' WITH GRANT OPTION`);
    await root.end();
    const caPem = await readFile(certs.ca, 'utf8');
    const admin = () =>
      mysql.createConnection({
        host: '127.0.0.1', port, user: 'admin', password: adminPassword, ssl: { ca: caPem, rejectUnauthorized: true }, multipleStatements: false,
      });
    return {
      host: '127.0.0.1',
      port,
      adminUser: 'admin',
      adminPassword,
      caPem,
      caFile: certs.ca,
      admin,
      async destroy() {
        live.delete(dir);
        if (proc.exitCode === null) {
          const gone = new Promise((r) => proc.once('exit', r));
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
          await gone;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    live.delete(dir);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Runs the `mariadb` command-line client as a person would (TLS verified against `caPem`). */
export async function mariadbClient(
  server: Pick<MariaDbServer, 'host' | 'port' | 'caFile'>,
  user: string,
  password: string,
  sql: string,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      'mariadb',
      [
        '--no-defaults', '--protocol=TCP', `--host=${server.host}`, `--port=${server.port}`, `--user=${user}`,
        `--password=${password}`, `--ssl-ca=${server.caFile}`, '--ssl-verify-server-cert', '--batch', '--skip-column-names', '-e', sql,
      ],
      { timeout: 30_000 },
    );
    return { ok: true, stdout: stdout.trim(), stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, stdout: String(e.stdout ?? '').trim(), stderr: String(e.stderr ?? '') };
  }
}

/** The service account's setup, as docs/targets/mariadb.md gives it (roles added per test). */
export function serviceAccountSetup(user: string, password: string, schema = 'timebox'): string[] {
  const svc = `${mysql.escape(user)}@'%'`;
  return [
    `CREATE DATABASE IF NOT EXISTS \`${schema}\``,
    `CREATE TABLE IF NOT EXISTS \`${schema}\`.jit_accounts (user VARCHAR(80) NOT NULL PRIMARY KEY, host VARCHAR(255) NOT NULL, marker VARCHAR(1024) NOT NULL)`,
    `CREATE USER ${svc} IDENTIFIED BY ${mysql.escape(password)}`,
    `GRANT CREATE USER, CONNECTION ADMIN, PROCESS ON *.* TO ${svc}`,
    `GRANT SELECT ON mysql.global_priv TO ${svc}`,
    // MariaDB checks UPDATE on the mysql schema for SET DEFAULT ROLE … FOR another user.
    `GRANT UPDATE ON mysql.* TO ${svc}`,
    `GRANT SELECT ON mysql.roles_mapping TO ${svc}`,
    `GRANT EVENT ON \`${schema}\`.* TO ${svc}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${schema}\`.jit_accounts TO ${svc}`,
  ];
}

export interface MariadbTarget {
  /** Target config for Timebox (service account, TLS verified). */
  config: { host: string; port: number; user: string; password: string; ssl: 'verify-full'; caPem: string };
  /** A role that may read `shop.orders`, and one that may write it. */
  readers: string;
  writers: string;
}

/**
 * A shop schema with two rows, roles to read and write it held by a fresh service account
 * WITH ADMIN OPTION. Unique names per call, so files and tests never share state.
 */
export async function prepareMariadbTarget(server: MariaDbServer): Promise<MariadbTarget> {
  const tag = randomBytes(3).toString('hex');
  const user = `tb_svc_${tag}`;
  const password = randomBytes(18).toString('hex');
  const readers = `shop_read_${tag}`;
  const writers = `shop_write_${tag}`;
  const c = await server.admin();
  try {
    for (const sql of serviceAccountSetup(user, password)) await c.query(sql);
    await c.query('CREATE DATABASE IF NOT EXISTS shop');
    await c.query('CREATE TABLE IF NOT EXISTS shop.orders (id INT PRIMARY KEY, item VARCHAR(40))');
    await c.query("INSERT IGNORE INTO shop.orders VALUES (1, 'widget'), (2, 'gadget')");
    await c.query(`CREATE ROLE \`${readers}\``);
    await c.query(`GRANT SELECT ON shop.* TO \`${readers}\``);
    await c.query(`CREATE ROLE \`${writers}\``);
    await c.query(`GRANT SELECT, INSERT, UPDATE ON shop.* TO \`${writers}\``);
    for (const r of [readers, writers]) await c.query(`GRANT \`${r}\` TO ${mysql.escape(user)}@'%' WITH ADMIN OPTION`);
  } finally {
    await c.end();
  }
  return { config: { host: server.host, port: server.port, user, password, ssl: 'verify-full', caPem: server.caPem }, readers, writers };
}
