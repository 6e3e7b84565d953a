/**
 * Production start: the compiled output of `npm run build` (tsc -p tsconfig.build.json and the
 * server's bundle, as the global setup builds them for the run) runs without the TypeScript
 * loader. The server starts on its embedded database, migrates it, prints the first owner and
 * serves /healthz; the agent program enforces, loading none of the server (every module it loads
 * is recorded by a resolve hook and checked).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUNDLE_META } from '../../scripts/bundle-server.js';
import { compiledEntry } from '../harness/compiled.js';
import { freePort } from '../harness/postgres.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';

// A first start creates and migrates the embedded database: seconds on a quiet machine, more
// on a busy shared one.
const START_MS = 180_000;

const out = inject('buildDir');
let tmp = '';
let server: ChildServer | null = null;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tb-prod-start-'));
});

afterAll(async () => {
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('production start from the build output', () => {
  it('the compiled server migrates an empty embedded database and serves /healthz', async () => {
    const env = {
      TIMEBOX_DATA_DIR: path.join(tmp, 'data'),
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
    };
    server = await startChildServer(env, START_MS);
    expect(server.bootstrap?.email).toBeTruthy();
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    // Another server on the same embedded data while this one runs: refused, nothing touched.
    const beside = await startChildServer({ ...env, PORT: String(await freePort()) }, START_MS).then(
      () => 'started',
      (err: Error) => err.message,
    );
    expect(beside).toMatch(new RegExp(`exited with 2 before it was ready:[\\s\\S]*is in use by another Timebox process \\(pid ${server.pid}\\)`));
    // A second start of the same data after a kill -9: migrations already applied, no new first
    // owner, the lock the killed process left taken over.
    await server.kill9();
    server = await startChildServer(env, START_MS);
    expect(server.bootstrap).toBeNull();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 3 * START_MS);

  it('the compiled server is ready without loading what it uses only later (connector clients, gateway, OpenAPI generator...)', async () => {
    const loaded = path.join(tmp, 'server-loaded.txt');
    const env = {
      TIMEBOX_DATA_DIR: path.join(tmp, 'data-lazy'),
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
      NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(recordingHook(loaded))}`,
    };
    const lazy = await startChildServer(env, START_MS);
    try {
      const files = (await readFile(loaded, 'utf8')).split('\n').filter(Boolean);
      // npm start runs the bundle: a chunk stands for the modules esbuild put in it.
      expect(files).toContain(pathToFileURL(compiledEntry('cli/main')).href);
      const atReady = await unbundled(files);
      const packages = new Set(atReady.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean));
      expect([...packages]).toEqual(expect.arrayContaining(['fastify', 'kysely', '@electric-sql/pglite']));
      for (const later of ['ldapts', 'mysql2', 'ssh2', 'nodemailer', '@peculiar/x509', 'otplib', 'prom-client', '@fastify/swagger']) {
        expect(packages.has(later), `${later} was loaded before ready`).toBe(false);
      }
      const ours = pathToFileURL(out).href;
      const modules = atReady.filter((u) => u.startsWith(ours)).map((u) => u.slice(ours.length + 1));
      for (const later of ['gateway/gateway-server.js', 'connectors/postgres/instance.js', 'connectors/mariadb/instance.js', 'connectors/active-directory/instances.js']) {
        expect(modules, `${later} was loaded before ready`).not.toContain(later);
      }
      // Loaded on first use: the OpenAPI document is there on its first request.
      const doc = await fetch(`${lazy.url}/api/openapi.json`);
      expect(doc.status).toBe(200);
      expect(Object.keys(((await doc.json()) as { paths: object }).paths)).toContain('/api/v1/tenants/{tenant}/targets');
      expect(await readFile(loaded, 'utf8')).toContain('/node_modules/@fastify/swagger/');
    } finally {
      await lazy.stop();
    }
  }, 2 * START_MS);

  it('the bundle keeps what Node gives a package loaded with import(): no chunk is a CommonJS module reduced to its default export', async () => {
    // Bundled, `(await import('cookie')).parseCookie` would be undefined (a sign-in answered 500
    // once this way): such packages must load from node_modules (scripts/bundle-server.ts).
    const dir = path.dirname(compiledEntry('cli/main'));
    const chunks = (await readdir(dir)).filter((f) => f.endsWith('.js'));
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks) {
      expect(await readFile(path.join(dir, chunk), 'utf8'), chunk).not.toMatch(/^export default require_/m);
    }
  });

  it('the compiled agent program enforces and loads only the agent, core and the wire contract', async () => {
    const loaded = path.join(tmp, 'loaded.txt');
    const hook = recordingHook(loaded);
    const stateDir = path.join(tmp, 'agent-state');
    const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, compiledEntry('agent/program'), 'run', '--state-dir', stateDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        log += d.toString();
        if (log.includes('only the local schedule is enforced')) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`the agent exited (${code}): ${log}`)));
    });
    child.kill('SIGTERM');
    await exited;

    const urls = (await readFile(loaded, 'utf8')).split('\n').filter(Boolean);
    const ours = pathToFileURL(out).href;
    const ownDirs = new Set(urls.filter((u) => u.startsWith(ours)).map((u) => u.slice(ours.length + 1).split('/')[0]));
    expect([...ownDirs].sort()).toEqual(['agent', 'agent-wire', 'core']);
    const packages = new Set(urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean));
    expect([...packages].sort()).toEqual(expect.arrayContaining(['commander', 'pino', 'zod']));
    for (const server of ['fastify', 'pg', 'kysely', 'ldapts', '@node-rs/argon2', '@peculiar/x509', '@electric-sql/pglite', 'nodemailer']) {
      expect(packages.has(server), `the agent loaded ${server}`).toBe(false);
    }
  });
});

/** Module URLs with each of the bundle's files replaced by the input files it holds (esbuild's metafile). */
async function unbundled(urls: string[]): Promise<string[]> {
  const meta = JSON.parse(await readFile(path.join(out, BUNDLE_META), 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
  const byUrl = new Map(Object.entries(meta.outputs).map(([file, o]) => [pathToFileURL(path.resolve(out, file)).href, Object.keys(o.inputs)]));
  return urls.flatMap((u) => byUrl.get(u)?.map((input) => pathToFileURL(path.resolve(out, input)).href) ?? [u]);
}

/** A module for --import that appends the URL of every module the process loads to `file`. */
function recordingHook(file: string): string {
  return `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(\`
        import { appendFileSync } from 'node:fs';
        export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(file)}, r.url + '\\\\n'); return r; }
      \`));`;
}
