/**
 * The SSH gateway end to end: the system OpenSSH client → `timebox gateway` (its own process,
 * beside a server on one PostgreSQL) → a real sshd on a throwaway host whose accounts the agent
 * manages. A person with a grant gets in as the grant's account without ever seeing its password;
 * others are refused; the recording holds exactly what the client received; sessions end at the
 * grant's end (measured), on early revocation and on an admin's kill; forwarding is refused; a
 * gateway killed with -9 leaves a recording readable up to its last flush and an abnormal end in
 * the audit log, and the grant untouched.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject, it, onTestFailed, onTestFinished } from 'vitest';
import { compiledEntry } from '../harness/compiled.js';
import type { HostNamespace, NsSshd } from '../harness/host-namespace.js';
import { runArgv, type ExecResult } from '../harness/sshd.js';
import { waitUntil } from '../agent/support.js';
import { addMember, type RestartableServer } from '../e2e/agent-support.js';
import { SIGN_IN_LIMITS } from '../../src/gateway/pre-sign-in.js';
import { startGatewayRig, type GatewayProcess, type GatewayRig, type Identity } from '../support/gateway.js';
import type { ApiClient } from '../support/http.js';

const T = '/api/v1/tenants/default';
let rig: GatewayRig;
/** How long a connection may take to sign in, short here so the deadline is seen. */
const GRACE_MS = 5000;
let server: RestartableServer;
let ns: HostNamespace;
let sshd: NsSshd;
let targetId: string;
let dir: string;
let gw: GatewayProcess;
let ann: ApiClient;
let bob: ApiClient;
let cat: ApiClient;
let dan: ApiClient;
let eve: ApiClient;
let auditor: ApiClient;

const startGatewayProcess = (port: number) => rig.startGateway(port);
const identityOf = (client: ApiClient, name: string): Promise<Identity> => rig.identity(client, name);
const sshArgs = (user: string, id: Identity, command: string[], extra: string[] = []): string[] => rig.sshArgs(user, id, command, extra);

const sshEnv = () => rig.sshEnv();
const ssh = (user: string, id: Identity, command: string[], extra: string[] = [], input?: string): Promise<ExecResult> =>
  runArgv('/usr/bin/ssh', sshArgs(user, id, command, extra), { env: sshEnv(), timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });

/** A long session, the client kept open; resolves the time it ended. */
function sshHeld(user: string, id: Identity, command: string[]) {
  const child = spawn('/usr/bin/ssh', sshArgs(user, id, command), { env: sshEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (err += String(d)));
  const ended = new Promise<{ at: number; code: number | null }>((resolve) => child.once('exit', (code) => resolve({ at: Date.now(), code })));
  return { child, ended, stdout: () => out, stderr: () => err };
}

async function requestGrant(client: ApiClient, account: string, seconds: number): Promise<{ id: string; expiresAt: string }> {
  const r = await client.post(`${T}/requests`, { targetId, entitlements: ['users'], durationSeconds: seconds, reason: 'INC-77 gateway test', accountName: account });
  if (r.status !== 201) throw new Error(`request: ${r.status} ${JSON.stringify(r.body)}`);
  expect(r.body.state).toBe('active');
  // The account exists on the host once the agent applied the grant.
  await waitUntil(`${account} on the host`, 30_000, async () => (await ns.exec(['getent', 'passwd', account])).code === 0);
  return { id: r.body.id as string, expiresAt: r.body.expiresAt as string };
}

/** Waits until the gateway can log in as the grant's account (the agent has set it up). */
const usable = (id: Identity) => waitUntil('a login through the gateway', 60_000, async () => (await ssh('web-01', id, ['true'])).code === 0);

const sessionsOf = async (grantId: string) => (await auditor.get(`${T}/gateway-sessions?grantId=${grantId}`)).body.items as Array<Record<string, any>>;
/** The live session running `sleep` (not the short login that checked the account was ready). */
const heldSession = (grantId: string) =>
  waitUntil('the held session is live', 15_000, async () => (await sessionsOf(grantId)).find((s) => s.live && String(s.command).includes('sleep')) ?? null);
const endedSession = (grantId: string, timeoutMs = 20_000) =>
  waitUntil(`a session of ${grantId} ended`, timeoutMs, async () => (await sessionsOf(grantId)).find((s) => !s.live) ?? null);
const recordingOf = async (sessionId: string): Promise<{ header: any; events: Array<[number, string, string]>; text: string }> => {
  const r = await auditor.call('GET', `${T}/gateway-sessions/${sessionId}/recording`);
  expect(r.status).toBe(200);
  const text = typeof r.body === 'string' ? r.body : `${JSON.stringify(r.body)}\n`;
  const [header, ...events] = text.trim().split('\n').map((l) => JSON.parse(l));
  return { header, events, text };
};
const outputOf = (events: Array<[number, string, string]>) => events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
const auditOf = async (action: string) => ((await server.admin.get(`${T}/audit?action=${action}&limit=200`)).body.items ?? []) as Array<Record<string, any>>;

beforeAll(async () => {
  rig = await startGatewayRig({ pgAdminUrl: inject('pgAdminUrl'), gatewayEnv: { TIMEBOX_GATEWAY_LOGIN_GRACE_MS: String(GRACE_MS) } });
  ({ server, ns, sshd, targetId, dir, gw } = rig);
  ann = await addMember(server, 'ann@example.test', ['requester']);
  bob = await addMember(server, 'bob@example.test', ['requester']);
  cat = await addMember(server, 'cat@example.test', ['requester']);
  dan = await addMember(server, 'dan@example.test', ['requester']);
  eve = await addMember(server, 'eve@example.test', ['requester']);
  auditor = await addMember(server, 'audrey@example.test', ['auditor']);
}, 240_000);

afterAll(async () => {
  await rig?.destroy();
});

it('a person with a grant runs a command as the grant account; the recording holds exactly what the client received', async () => {
  onTestFailed(() => console.error(gw.output()));
  const grant = await requestGrant(ann, 'tbgwann', 600);
  const id = await identityOf(ann, 'ann');
  const r = await waitUntil('the command ran through the gateway', 60_000, async () => {
    const x = await ssh('web-01', id, ['id', '-un;', 'echo', 'hello-through-the-gateway;', 'printf', "'caf\\303\\251\\n'"]);
    return x.code === 0 ? x : null;
  });
  expect(r.stdout).toBe('tbgwann\nhello-through-the-gateway\ncafé\n');
  const session = await endedSession(grant.id);
  expect(session).toMatchObject({ account: 'tbgwann', kind: 'exec', endReason: 'host_closed', targetName: 'web-01', operatorEmail: 'ann@example.test' });
  const rec = await recordingOf(session.id);
  expect(rec.header).toMatchObject({ version: 2, width: 80, height: 24 });
  expect(outputOf(rec.events)).toBe(r.stdout);
  expect(session.recordingBytes).toBe(Buffer.byteLength(rec.text));
  const ended = (await auditOf('gateway.session_ended')).find((e) => JSON.stringify(e).includes(session.id));
  expect(JSON.stringify(ended ?? {})).toContain(session.recordingSha256);

  // A shell on a terminal: typed commands run, the recording matches the terminal output byte for byte.
  const shell = await ssh('web-01', id, [], ['-tt'], 'echo shell-$((40+2))\nexit\n');
  expect(shell.stdout).toContain('shell-42');
  const shellSession = await waitUntil('the shell session ended', 20_000, async () => (await sessionsOf(grant.id)).find((s) => s.kind === 'shell' && !s.live) ?? null);
  expect(outputOf((await recordingOf(shellSession.id)).events)).toBe(shell.stdout);
  // An auditor exports it with the CLI: the plain asciicast, the hash in the audit event.
  const token = (await auditor.post('/api/v1/tokens', { name: 'cli' })).body.token as string;
  const cliEnv = { ...process.env, TIMEBOX_SERVER: server.url, TIMEBOX_TOKEN: token, TIMEBOX_CONFIG: path.join(dir, 'no-cli.json'), HOME: dir };
  const castFile = path.join(dir, 'exported.cast');
  const exported = await runArgv(process.execPath, [compiledEntry('cli/main'), 'sessions', 'export', session.id, '-o', castFile], { env: cliEnv, timeoutMs: 60_000 });
  expect(exported.code, exported.stderr).toBe(0);
  const cast = await readFile(castFile);
  expect(cast.toString('utf8')).toBe(rec.text);
  expect(createHash('sha256').update(cast).digest('hex')).toBe(session.recordingSha256);
  const listed = await runArgv(process.execPath, [compiledEntry('cli/main'), 'sessions', 'list', '--json'], { env: cliEnv, timeoutMs: 60_000 });
  expect(JSON.parse(listed.stdout).map((x: { id: string }) => x.id)).toContain(session.id);

  // The person never saw the password: nothing was revealed.
  expect((await ann.get(`${T}/grants/${grant.id}`)).body.credentialAvailable).toBe(true);
}, 120_000);

it('an escape sequence with a huge count printed in a shell stops neither the gateway nor another session', async () => {
  onTestFailed(() => console.error(gw.output()));
  const fay = await addMember(server, 'fay@example.test', ['requester']);
  const grant = await requestGrant(fay, 'tbgwfay', 600);
  const id = await identityOf(fay, 'fay');
  await usable(id);
  const held = sshHeld('web-01', id, ['sleep', '600']);
  onTestFinished(async () => {
    held.child.kill();
    await held.ended;
  });
  await heldSession(grant.id);
  // Insert 4294967295 blanks: the command tracker once tried to, and the process ran out of memory.
  // (That the tracker reads the next command after it is shown in src/gateway/command-line.test.ts.)
  const shell = await ssh('web-01', id, [], ['-tt'], "printf '\\033[4294967295@\\033[99999999999@'; echo after-$((1+1))\nexit\n");
  expect(shell.stdout).toContain('after-2');
  const ended = await waitUntil('the shell session ended', 20_000, async () => (await sessionsOf(grant.id)).find((x) => x.kind === 'shell' && !x.live) ?? null);
  expect(ended.endReason).toBe('host_closed');
  expect(outputOf((await recordingOf(ended.id)).events)).toContain('after-2');
  // The other session is still open, and new ones are taken.
  expect(held.child.exitCode).toBeNull();
  expect((await ssh('web-01', id, ['echo', 'still-here'])).stdout).toBe('still-here\n');
}, 120_000);

/** A TCP connection to the gateway that sends its SSH identification and nothing more; resolves once the gateway answered. */
function idleConnection(): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(gw.port, '127.0.0.1', () => socket.write('SSH-2.0-OpenSSH_9.2\r\n'));
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    socket.once('data', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

it('connections that do not sign in are capped per address, closed after the grace time, and after too many refused attempts', async () => {
  onTestFailed(() => console.error(gw.output()));
  const held = await Promise.all(Array.from({ length: SIGN_IN_LIMITS.perAddress }, () => idleConnection()));
  // One more from the same address is closed at once, while the others still wait for their deadline.
  const extra = tcpConnect(gw.port, '127.0.0.1');
  const extraClosed = await new Promise<number>((r) => extra.once('close', () => r(Date.now())));
  const firstWaiting = await Promise.race([held[0]!.closed, Promise.resolve(null)]);
  expect(firstWaiting).toBeNull();
  // Each waiting one is closed by the gateway once the grace time is over.
  const closedAt = await Promise.all(held.map((h) => h.closed));
  expect(Math.min(...closedAt)).toBeGreaterThan(extraClosed);

  // One connection offering key after key: closed after the refused attempts allowed.
  let offered = 0;
  const keys = Array.from({ length: SIGN_IN_LIMITS.refusedAttempts + 10 }, () => ssh2.utils.generateKeyPairSync('ed25519').private);
  const ended = await new Promise<string>((resolve) => {
    const c = new ssh2.Client();
    c.on('ready', () => resolve('signed in'));
    c.on('error', (err) => resolve(err.message));
    c.on('close', () => resolve('closed'));
    c.connect({
      host: '127.0.0.1',
      port: gw.port,
      username: 'web-01',
      authHandler: (_methods, _partial, next) => {
        const key = keys[offered++];
        next(key ? { type: 'publickey', username: 'web-01', key } : (false as never));
      },
    });
  });
  expect(ended).not.toBe('signed in');
  // Cut off after the refusals allowed (a try or two may already be on the wire when it is).
  expect(offered).toBeLessThanOrEqual(SIGN_IN_LIMITS.refusedAttempts + 3);
  expect(offered).toBeLessThan(keys.length);

  // People still sign in: ann's grant from the first test.
  const after = await ssh('web-01', await identityOf(ann, 'ann-after-limits'), ['true']);
  expect(after.code, after.stderr).toBe(0);
}, 120_000);

it('timebox ssh fetches a certificate and runs the system ssh; a key registered in the profile works too', async () => {
  const token = await ann.post('/api/v1/tokens', { name: 'cli' });
  expect(token.status).toBe(201);
  const cli = await runArgv(process.execPath, [compiledEntry('cli/main'), 'ssh', '--gateway', `127.0.0.1:${gw.port}`, 'web-01', '--', 'echo', 'via-timebox-ssh'], {
    env: { ...process.env, TIMEBOX_SERVER: server.url, TIMEBOX_TOKEN: token.body.token, TIMEBOX_CONFIG: path.join(dir, 'no-cli.json'), HOME: dir },
    timeoutMs: 60_000,
  });
  expect(cli.code, cli.stderr).toBe(0);
  expect(cli.stdout).toBe('via-timebox-ssh\n');
  // The command's exit status comes through, whether the command ends at once or not.
  const failing = await ssh('web-01', await identityOf(ann, 'ann-exit'), ['exit', '7']);
  expect(failing.code).toBe(7);

  const keyFile = path.join(dir, 'ann-laptop');
  await runArgv('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const added = await ann.post('/api/v1/me/ssh-keys', { name: 'laptop', publicKey: await readFile(`${keyFile}.pub`, 'utf8') });
  expect(added.status).toBe(201);
  // No certificate at all: the key alone names Ann.
  const plain = await ssh('web-01', { keyFile, certFile: '/dev/null' }, ['id', '-un']);
  expect(plain.code, plain.stderr).toBe(0);
  expect(plain.stdout).toBe('tbgwann\n');
  expect((await ann.call('DELETE', `/api/v1/me/ssh-keys/${added.body.id}`)).status).toBe(204);
  expect((await ssh('web-01', { keyFile, certFile: '/dev/null' }, ['true'])).code).toBe(255);
}, 120_000);

it('refuses a person without a grant, a stolen certificate without its key, unknown keys, and port forwarding', async () => {
  const bobId = await identityOf(bob, 'bob');
  const noGrant = await ssh('web-01', bobId, ['true']);
  expect(noGrant.code).toBe(255);
  expect(noGrant.stderr).toMatch(/Permission denied/);

  // Bob holds Ann's certificate but not her key: the client cannot use it, the gateway never lets it in.
  const annCert = path.join(dir, 'ann-cert.pub');
  const stolen = await ssh('web-01', { keyFile: bobId.keyFile, certFile: annCert }, ['true']);
  expect(stolen.code).toBe(255);

  const annId = await identityOf(ann, 'ann2');
  const forward = await ssh('web-01', annId, [], ['-W', `127.0.0.1:${sshd.port}`]);
  expect(forward.code).not.toBe(0);
  expect(forward.stderr).toMatch(/stdio forwarding failed|administratively prohibited|open failed/);

  const refusals = await auditOf('gateway.access_refused');
  expect(refusals.some((e) => JSON.stringify(e).includes('no_active_grant'))).toBe(true);
  const features = await auditOf('gateway.feature_refused');
  expect(features.some((e) => JSON.stringify(e).includes('port_forwarding'))).toBe(true);
  expect((await auditor.get(`${T}/gateway-sessions?live=true`)).body.items).toEqual([]);
}, 120_000);

it('closes the session within a second of the grant end, with a warning first; later logins are refused', async () => {
  onTestFailed(() => console.error(gw.output()));
  // Shorter than the warning lead: the warning comes at once.
  const grant = await requestGrant(cat, 'tbgwcat', 25);
  const id = await identityOf(cat, 'cat');
  await usable(id);
  const held = sshHeld('web-01', id, ['sleep', '600']);
  await heldSession(grant.id);
  const { at } = await held.ended;
  const lateMs = at - Date.parse(grant.expiresAt);
  console.log(`gateway closed the session ${lateMs} ms after the grant's end`);
  expect(lateMs).toBeGreaterThanOrEqual(-50);
  expect(lateMs).toBeLessThan(1000);
  expect(held.stderr()).toMatch(/your access ends in \d+ s/);
  const session = await waitUntil('the session ended', 10_000, async () => (await sessionsOf(grant.id)).find((s) => s.endReason === 'grant_ended') ?? null);
  expect(session.live).toBe(false);
  const after = await ssh('web-01', await identityOf(cat, 'cat2'), ['true']);
  expect(after.code).toBe(255);
}, 120_000);

it('closes the session at an early revocation and at an admin kill', async () => {
  const grant = await requestGrant(dan, 'tbgwdan', 600);
  const id = await identityOf(dan, 'dan');
  await usable(id);
  const killed = sshHeld('web-01', id, ['sleep', '600']);
  const live = await heldSession(grant.id);
  expect((await bob.post(`${T}/gateway-sessions/${live.id}/kill`)).status).toBe(403);
  const kill = await auditor.post(`${T}/gateway-sessions/${live.id}/kill`);
  expect(kill.status).toBe(202);
  const t0 = Date.now();
  await killed.ended;
  expect(Date.now() - t0).toBeLessThan(2000);
  await waitUntil('the session is recorded as killed', 5_000, async () => (await auditor.get(`${T}/gateway-sessions/${live.id}`)).body.endReason === 'killed');

  const held = sshHeld('web-01', await identityOf(dan, 'dan2'), ['sleep', '600']);
  await heldSession(grant.id);
  const revokedAt = Date.now();
  expect((await server.admin.post(`${T}/grants/${grant.id}/revoke`, { reason: 'INC-77 done early' })).status).toBe(200);
  const { at } = await held.ended;
  console.log(`gateway closed the session ${at - revokedAt} ms after the revocation was requested`);
  expect(at - revokedAt).toBeLessThan(5000);
  const sessions = await waitUntil('every session closed', 5_000, async () => {
    const all = await sessionsOf(grant.id);
    return all.every((s) => !s.live) ? all : null;
  });
  expect(sessions.map((s) => s.endReason)).toContain('grant_revoked');
}, 120_000);

it('a gateway killed with -9: the recording is readable up to the last flush, the session ends abnormally, the grant is untouched', async () => {
  onTestFailed(() => console.error(gw.output()));
  const grant = await requestGrant(eve, 'tbgweve', 600);
  const id = await identityOf(eve, 'eve');
  await usable(id);
  const held = sshHeld('web-01', id, ['echo', 'before-the-crash;', 'sleep', '600']);
  const live = await heldSession(grant.id);
  // The recording is flushed at least every 2 s: the line shows up in the live export.
  await waitUntil('the output was flushed', 10_000, async () => (await recordingOf(live.id)).text.includes('before-the-crash'));
  await gw.kill9();
  await held.ended;
  const before = (await server.admin.get(`${T}/grants/${grant.id}`)).body;

  gw = await startGatewayProcess(gw.port);
  const session = (await auditor.get(`${T}/gateway-sessions/${live.id}`)).body;
  expect(session).toMatchObject({ live: false, endReason: 'gateway_died' });
  const rec = await recordingOf(live.id);
  expect(outputOf(rec.events)).toBe('before-the-crash\n');
  const ended = (await auditOf('gateway.session_ended')).find((e) => JSON.stringify(e).includes(live.id));
  expect(JSON.stringify(ended)).toMatch(/"abnormal":true/);
  const after = (await server.admin.get(`${T}/grants/${grant.id}`)).body;
  expect(after.state).toBe('active');
  expect(after.expiresAt).toBe(before.expiresAt);
}, 120_000);
