/**
 * The SSH gateway against sshd direct, same run, same client: a real sshd (the test harness's,
 * in its own mount namespace) that trusts the tenant's SSH CA, a real server on PostgreSQL and
 * `timebox gateway` as its own process (through tsx) logging in with a certificate issued per
 * session and recording every session to disk.
 *
 * - throughput: the system `ssh` runs `cat` of a text file (100 MB; BENCH_QUICK: 20 MB), stdout
 *   counted by this process, from the first byte to the last (the login is not counted), direct
 *   and through the gateway in alternating rounds; the figure is the median gateway time ÷ the
 *   median direct time, inverted (throughput through the gateway ÷ direct; goal ≥ 0.5);
 * - keystroke round trip: the system `ssh -tt` runs `cat` on a raw terminal; one byte is sent and
 *   its echo awaited, many times, both ways in alternating blocks; the figure is the added p99;
 * - memory, first (before any traffic grew the heap): the gateway process's RSS idle and with N
 *   concurrent recorded sessions held open by ssh2 clients (each a terminal running `cat` that
 *   has echoed a line), N = 100 (quick: 20).
 *
 * Run alone: `npx tsx bench/gateway.ts` (BENCH_QUICK=1 for the small run); it starts its own
 * PostgreSQL then. Needs root (the sshd harness uses a mount namespace) and openssh.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, open, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import ssh2, { type Client, type ClientChannel } from 'ssh2';
import { createOperators } from '../src/auth/operators.js';
import { startTimebox, type Timebox } from '../src/server/start.js';
import { gatewayDb } from '../src/store/schema-gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../test/harness/gateway-process.js';
import { freePort } from '../test/harness/postgres.js';
import { runArgv, startSshd, type Sshd } from '../test/harness/sshd.js';
import { benchLogger, newMasterKey, say, serverEnv } from './setup.js';
import { summarize, type Summary } from './stats.js';

export interface GatewayBenchOptions {
  databaseUrl: string;
  /** Size of the file `cat` sends. */
  fileMb: number;
  /** Rounds of `cat` per side. */
  catRounds: number;
  /** Keystrokes per side. */
  keystrokes: number;
  /** Concurrent recorded sessions for the memory figure. */
  sessions: number;
}

export interface GatewayBenchFigures {
  fileMb: number;
  catRounds: number;
  direct: { mbPerSecond: number; ms: number[] };
  gateway: { mbPerSecond: number; ms: number[] };
  /** Throughput through the gateway ÷ direct (median times). */
  throughputRatio: number;
  keystrokeMs: { direct: Summary; gateway: Summary; addedP99: number };
  rssMb: { idle: number; withSessions: number; perSessionKb: number; sessions: number };
}

const T = '/api/v1/tenants/default';
const USER = 'tbbench';

async function call(base: string, method: string, p: string, token: string | null, body?: unknown) {
  const res = await fetch(new URL(p, base), {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${text.slice(0, 300)}`);
  return text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text;
}

async function keyPair(dir: string, name: string): Promise<{ file: string; publicKey: string; privateKey: string }> {
  const file = path.join(dir, name);
  const gen = await runArgv('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  if (gen.code !== 0) throw new Error(`ssh-keygen: ${gen.stderr}`);
  return { file, publicKey: (await readFile(`${file}.pub`, 'utf8')).trim(), privateKey: await readFile(file, 'utf8') };
}

/** A text file of `mb` MiB (base64 lines, as logs and listings look; no compression is on anyway). */
async function bigFile(file: string, mb: number): Promise<number> {
  const line = (n: number) => `${randomBytes(n).toString('base64')}\n`;
  let chunk = '';
  while (chunk.length < 1024 * 1024) chunk += line(57);
  const block = Buffer.from(chunk.slice(0, 1024 * 1024 - 1) + '\n');
  const fh = await open(file, 'w', 0o644);
  try {
    for (let i = 0; i < mb; i++) await fh.write(block);
  } finally {
    await fh.close();
  }
  return block.length * mb;
}

const sshEnv = (home: string) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LC_ALL: 'C' });

/** Argv of the system ssh for one path: direct (a certificate) or through the gateway (a registered key). */
function sshArgv(o: { port: number; user: string; keyFile: string; certFile: string | null; knownHosts: string }, extra: string[], command: string[]): string[] {
  return [
    '-F', 'none', '-p', String(o.port),
    '-o', `UserKnownHostsFile=${o.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=30',
    '-i', o.keyFile, '-o', `CertificateFile=${o.certFile ?? '/dev/null'}`,
    ...extra,
    `${o.user}@127.0.0.1`, '--', ...command,
  ];
}

/** Milliseconds from the first byte of `cat`'s output to the last; the byte count is checked. */
async function catOnce(what: string, argv: string[], home: string, bytes: number): Promise<number> {
  const child = spawn('/usr/bin/ssh', argv, { env: sshEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
  let n = 0;
  let first = 0;
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    if (n === 0) first = performance.now();
    n += d.length;
  });
  child.stderr!.on('data', (d) => (err += String(d)));
  const [code] = (await once(child, 'close')) as [number | null];
  const ms = performance.now() - first;
  if (code !== 0 || n !== bytes) throw new Error(`cat ${what}: exit ${code}, ${n} of ${bytes} bytes: ${err.slice(0, 300)}`);
  return ms;
}

/** An `ssh -tt` whose remote end echoes every byte at once (a raw terminal running cat). */
async function echoSession(argv: string[], home: string) {
  const child = spawn('/usr/bin/ssh', argv, { env: sshEnv(home), stdio: ['pipe', 'pipe', 'pipe'] });
  let seen = '';
  let waiting: { text: string; resolve: () => void } | null = null;
  let err = '';
  child.stderr!.on('data', (d) => (err += String(d)));
  child.stdout!.on('data', (d: Buffer) => {
    seen += d.toString('latin1');
    if (waiting && seen.includes(waiting.text)) {
      const w = waiting;
      waiting = null;
      seen = '';
      w.resolve();
    }
  });
  const expect = (text: string, timeoutMs: number, send?: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo of ${JSON.stringify(text)} within ${timeoutMs} ms: ${err.slice(0, 300)}`)), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      if (!send && seen.includes(text)) {
        seen = '';
        return done();
      }
      waiting = { text, resolve: done };
      if (send) child.stdin!.write(send);
    });
  await expect('READY', 60_000);
  return {
    async sample(i: number): Promise<number> {
      const ch = String.fromCharCode(97 + (i % 26));
      const t0 = performance.now();
      await expect(ch, 10_000, ch);
      return performance.now() - t0;
    },
    async close() {
      child.kill('SIGTERM');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

/** One recorded session held open by an ssh2 client: a terminal running cat that has echoed a line. */
async function heldSession(port: number, user: string, privateKey: string, hostKey: Buffer): Promise<Client> {
  const c = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve());
    c.once('error', reject);
    c.connect({ host: '127.0.0.1', port, username: user, privateKey, hostVerifier: (k: Buffer) => k.equals(hostKey), readyTimeout: 120_000 });
  });
  const ch = await new Promise<ClientChannel>((resolve, reject) =>
    c.exec('cat', { pty: { term: 'xterm', cols: 80, rows: 24, width: 0, height: 0 } }, (err, s) => (err ? reject(err) : resolve(s))),
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('a held session did not echo within 120 s')), 120_000);
    ch.on('data', (d: Buffer) => {
      out += String(d);
      if (out.includes('recorded-line')) {
        clearTimeout(timer);
        resolve();
      }
    });
    ch.write('recorded-line\n');
  });
  return c;
}

async function inPool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

export async function measureGateway(o: GatewayBenchOptions): Promise<GatewayBenchFigures> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'timebox-bench-gateway-'));
  // The host's user reads the file from here (the namespace sees this machine's /tmp).
  await chmod(base, 0o755);
  const recordings = path.join(base, 'recordings');
  const masterKey = newMasterKey();
  let tb: Timebox | null = null;
  let sshd: Sshd | null = null;
  let gw: GatewayProcess | null = null;
  const held: Client[] = [];
  try {
    tb = await startTimebox({
      env: serverEnv({ DATABASE_URL: o.databaseUrl, TIMEBOX_MASTER_KEY: masterKey, TIMEBOX_DATA_DIR: path.join(base, 'data'), TIMEBOX_RECONCILE_MS: '0', TIMEBOX_GATEWAY_RECORDINGS_DIR: recordings }),
      logger: benchLogger(),
    });
    const url = tb.url;
    const token = (await call(url, 'POST', '/api/v1/auth/login', null, tb.bootstrap)).token as string;
    await call(url, 'POST', '/api/v1/me/password', token, { currentPassword: tb.bootstrap!.password, newPassword: `Bench-${randomBytes(12).toString('base64url')}` });
    const { target } = await call(url, 'POST', `${T}/targets`, token, { name: 'bench-host', kind: 'ssh-certificate', config: { principalsAllowed: [USER] } });
    await call(url, 'POST', `${T}/policies`, token, { name: 'bench', targetId: target.id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 3600, reasonMinLength: 0 });
    await call(url, 'POST', `${T}/ca/ssh`, token);

    // The person: straight into the store with a password, then signed in as people are.
    const email = 'gw@bench.invalid';
    const password = `Bench-${randomBytes(12).toString('base64url')}`;
    const tenantId = (await tb.store.db.selectFrom('tenants').select('id').where('slug', '=', 'default').executeTakeFirstOrThrow()).id;
    const operators = createOperators({ db: tb.store.db, audit: tb.deps.audit, clock: tb.deps.clock });
    const system = { type: 'system' as const, id: null };
    const op = await operators.create({ email, displayName: 'Gateway bench', password }, system);
    await operators.setMembership(tenantId, op.id, ['requester'], system);
    const person = (await call(url, 'POST', '/api/v1/auth/login', null, { email, password })).token as string;

    sshd = await startSshd({ users: [USER], trustedUserCaKeys: (await call(url, 'GET', `${T}/ca/ssh`, null)) as string });
    const scan = await runArgv('/usr/bin/ssh-keyscan', ['-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1']);
    const sshdKey = scan.stdout.split('\n').find((l) => l.includes('ssh-ed25519'));
    if (!sshdKey) throw new Error(`ssh-keyscan: ${scan.stderr}`);
    await call(url, 'PUT', `${T}/targets/${target.id}/gateway-destination`, token, { host: '127.0.0.1', port: sshd.port, hostKey: sshdKey });

    // Direct: the grant's own certificate for the person's key. Through the gateway: a key in their profile.
    const direct = await keyPair(base, 'direct');
    const viaGw = await keyPair(base, 'gateway');
    const grant = await call(url, 'POST', `${T}/requests`, person, { targetId: target.id, entitlements: [USER], durationSeconds: 3600, reason: 'benchmark', publicKey: direct.publicKey });
    const shown = await call(url, 'POST', `${T}/grants/${grant.id}/credential`, person, {});
    await writeFile(`${direct.file}-cert.pub`, `${shown.certificate}\n`);
    await call(url, 'POST', '/api/v1/me/ssh-keys', person, { name: 'bench', publicKey: viaGw.publicKey });

    gw = await startGatewayProcess({
      DATABASE_URL: o.databaseUrl,
      TIMEBOX_MASTER_KEY: masterKey,
      TIMEBOX_DATA_DIR: path.join(base, 'data'),
      TIMEBOX_GATEWAY_RECORDINGS_DIR: recordings,
      TIMEBOX_GATEWAY_ID: 'gateway-bench',
      TIMEBOX_OUTBOUND_ALLOW: 'loopback',
      TIMEBOX_LOG_LEVEL: 'warn',
    }, await freePort());
    const gwInfo = await call(url, 'GET', '/api/v1/gateway', person);
    const knownHosts = path.join(base, 'known_hosts');
    await writeFile(knownHosts, `[127.0.0.1]:${sshd.port} ${sshdKey.split(' ').slice(1).join(' ')}\n[127.0.0.1]:${gw.port} ${gwInfo.hostKey}\n`);
    const directPath = { port: sshd.port, user: USER, keyFile: direct.file, certFile: `${direct.file}-cert.pub`, knownHosts };
    const gatewayPath = { port: gw.port, user: 'bench-host', keyFile: viaGw.file, certFile: null, knownHosts };
    say('gateway bench: server, sshd and gateway ready');

    // Memory first, before any traffic has grown the heap: idle, then with N recorded sessions held.
    const live = () => gatewayDb(tb!.store.db).selectFrom('gateway_sessions').select('id').where('ended_at', 'is', null).execute();
    const idle = await gw.rssMb();
    const hostKey = Buffer.from(String(gwInfo.hostKey).split(' ')[1]!, 'base64');
    held.push(...(await inPool(o.sessions, 10, () => heldSession(gw!.port, 'bench-host', viaGw.privateKey, hostKey))));
    const open = (await live()).length;
    if (open < o.sessions) throw new Error(`only ${open} of ${o.sessions} sessions are live at the gateway`);
    const files = (await readdir(recordings)).length;
    if (files < o.sessions) throw new Error(`only ${files} recordings on disk for ${o.sessions} sessions`);
    const withSessions = await gw.rssMb();
    say(`gateway RSS: ${idle.toFixed(0)} MB idle, ${withSessions.toFixed(0)} MB with ${o.sessions} recorded sessions`);
    for (const c of held.splice(0)) c.end();
    for (let i = 0; i < 200 && (await live()).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    for (const f of await readdir(recordings)) await unlink(path.join(recordings, f)).catch(() => {});

    // Throughput.
    const file = path.join(base, 'big.txt');
    const bytes = await bigFile(file, o.fileMb);
    const times = { direct: [] as number[], gateway: [] as number[] };
    // One warm-up each: the first login pays for the CA's key cache, sshd's first fork, the page cache.
    await catOnce('direct', sshArgv(directPath, [], ['head', '-c', '1000', file]), base, 1000);
    await catOnce('through the gateway', sshArgv(gatewayPath, [], ['head', '-c', '1000', file]), base, 1000);
    for (let i = 0; i < o.catRounds; i++) {
      times.direct.push(await catOnce('direct', sshArgv(directPath, [], ['cat', file]), base, bytes));
      times.gateway.push(await catOnce('through the gateway', sshArgv(gatewayPath, [], ['cat', file]), base, bytes));
      // The recordings of these rounds are as big as the file: gone once measured.
      for (const f of await readdir(recordings).catch(() => [])) await unlink(path.join(recordings, f)).catch(() => {});
    }
    const mb = bytes / (1024 * 1024);
    const dMs = summarize(times.direct).p50;
    const gMs = summarize(times.gateway).p50;
    say(`gateway throughput: direct ${(mb / (dMs / 1000)).toFixed(1)} MB/s, through the gateway ${(mb / (gMs / 1000)).toFixed(1)} MB/s`);

    // Keystroke round trips, alternating blocks.
    const echoCommand = ['stty raw -echo; printf READY; exec cat'];
    const sessions = { direct: await echoSession(sshArgv(directPath, ['-tt'], echoCommand), base), gateway: await echoSession(sshArgv(gatewayPath, ['-tt'], echoCommand), base) };
    const rtt = { direct: [] as number[], gateway: [] as number[] };
    for (let i = 0; i < 10; i++) {
      await sessions.direct.sample(i);
      await sessions.gateway.sample(i);
    }
    const block = 50;
    for (let done = 0; done < o.keystrokes; done += block) {
      for (let i = 0; i < block; i++) rtt.direct.push(await sessions.direct.sample(i));
      for (let i = 0; i < block; i++) rtt.gateway.push(await sessions.gateway.sample(i));
    }
    await sessions.direct.close();
    await sessions.gateway.close();
    const ks = { direct: summarize(rtt.direct), gateway: summarize(rtt.gateway) };
    say(`keystroke round trip p99: direct ${ks.direct.p99.toFixed(2)} ms, through the gateway ${ks.gateway.p99.toFixed(2)} ms`);

    return {
      fileMb: mb,
      catRounds: o.catRounds,
      direct: { mbPerSecond: mb / (dMs / 1000), ms: times.direct },
      gateway: { mbPerSecond: mb / (gMs / 1000), ms: times.gateway },
      throughputRatio: dMs / gMs,
      keystrokeMs: { ...ks, addedP99: ks.gateway.p99 - ks.direct.p99 },
      rssMb: { idle, withSessions, perSessionKb: ((withSessions - idle) * 1024) / o.sessions, sessions: o.sessions },
    };
  } finally {
    for (const c of held) c.end();
    await gw?.stop();
    await sshd?.stop();
    await tb?.close();
    await rm(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.env.BENCH_QUICK === '1';
  const { startPostgres } = await import('../test/harness/postgres.js');
  const pg = await startPostgres({ name: 'bench-gateway', durable: true });
  try {
    const r = await measureGateway({ databaseUrl: await pg.createDatabase('gateway'), fileMb: quick ? 20 : 100, catRounds: quick ? 1 : 3, keystrokes: quick ? 200 : 1000, sessions: quick ? 20 : 100 });
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } finally {
    await pg.destroy();
  }
  process.exit(0);
}
