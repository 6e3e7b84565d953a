/**
 * For CLI tests: a real server in this process (embedded database in a temp dir, the in-memory
 * 'fake' target kind enabled) and the CLI run as a child process, the way a person runs it.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTimebox, type Timebox } from '../../src/server/start.js';
import { compiledEntry } from '../harness/compiled.js';
import { seedDataDir } from '../harness/pglite-template.js';
import { signInFirstOwner } from '../support/http.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface TestServer {
  tb: Timebox;
  url: string;
  /** The first owner: the generated password, or (firstPasswordChanged, the default) the one they changed it to. */
  admin: { email: string; password: string };
  /** A fresh temp dir for config files and exports; removed by close(). */
  dir: string;
  close(): Promise<void>;
}

export async function startTestServer(opts: { firstPasswordChanged?: boolean } = {}): Promise<TestServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'timebox-cli-'));
  const tb = await startTimebox({
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      TIMEBOX_DATA_DIR: await seedDataDir(path.join(dir, 'data')),
      TIMEBOX_LOG_LEVEL: 'silent',
      TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true',
      // Every test target, relay and receiver listens on this host.
      TIMEBOX_OUTBOUND_ALLOW: 'loopback',
    },
  });
  if (!tb.bootstrap) throw new Error('a fresh data dir must bootstrap an admin');
  // The printed password must be changed at first sign-in; most tests start after that.
  if (opts.firstPasswordChanged !== false) await signInFirstOwner(tb.url, tb.bootstrap);
  return {
    tb,
    url: tb.url,
    admin: tb.bootstrap,
    dir,
    async close() {
      await tb.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `timebox ...args` with only the given TIMEBOX_* settings (none leak in from the shell
 * running the tests), `input` on stdin, and returns what the person would see.
 */
export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('TIMEBOX_')) env[k] = v;
  Object.assign(env, { NO_COLOR: '1' }, opts.env);
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [compiledEntry('cli/main'), ...args], { cwd: root, env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(new Error(`could not run the CLI: ${err.message}\n${stderr}`));
      else resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Signs in over the API (no child process), for tests that only need a token. */
export async function apiLogin(server: TestServer): Promise<string> {
  const res = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(server.admin),
  });
  if (!res.ok) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** A POST over the API as `token`; returns the JSON body or throws with the server's answer. */
export async function apiPost<T>(server: TestServer, token: string, urlPath: string, body: unknown): Promise<T> {
  const res = await fetch(`${server.url}${urlPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${urlPath}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export interface RunningCli {
  /** Resolves once stderr or stdout has shown text matching `pattern` (no polling, no sleeps). */
  shows(pattern: RegExp): Promise<string>;
  /** What the command printed and its exit code, once it has ended. */
  done: Promise<CliResult>;
  /** Sends a signal, as Ctrl-C (SIGINT) at a terminal would. */
  signal(name: NodeJS.Signals): void;
}

/** Starts `timebox ...args` and lets the test react to what it prints while it runs (`request --wait`). */
export function startCli(args: string[], opts: { env?: Record<string, string> } = {}): RunningCli {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('TIMEBOX_')) env[k] = v;
  Object.assign(env, { NO_COLOR: '1' }, opts.env);
  const child = spawn(process.execPath, [compiledEntry('cli/main'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiting = new Set<() => void>();
  const changed = () => waiting.forEach((check) => check());
  child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), changed()));
  child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), changed()));
  let ended = false;
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code) => {
      ended = true;
      resolve({ code: code ?? -1, stdout, stderr });
      changed();
    }),
  );
  return {
    done,
    signal: (name) => void child.kill(name),
    shows(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(stderr) ?? pattern.exec(stdout);
          if (m) {
            waiting.delete(check);
            resolve(m[0]);
          } else if (ended) {
            waiting.delete(check);
            reject(new Error(`the command ended without showing ${pattern}:\n${stdout}\n${stderr}`));
          }
        };
        waiting.add(check);
        check();
      });
    },
  };
}
