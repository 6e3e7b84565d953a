/**
 * An SSH-certificate target through the gateway: the system OpenSSH client → the gateway (inside
 * a real server) → a real sshd that trusts the tenant's SSH CA and nothing else. For each session
 * the gateway has Timebox issue a certificate for the grant (the grant's principal, a couple of
 * minutes, never past the grant's end), logs in with it and shows it to nobody. A person with a
 * grant gets a shell and runs commands; without a grant, or after it ended, the gateway refuses;
 * a session open at the grant's end is cut within a second (measured).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { credentialsDb } from '../../src/credentials/types.js';
import { waitUntil } from '../agent/support.js';
import { scratchDir } from '../credentials/support.js';
import { runArgv, startSshd, type ExecResult, type Sshd } from '../harness/sshd.js';
import type { ApiClient } from '../support/http.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import { gatewaySshArgs, gatewaySshEnv, identityOf as sharedIdentityOf, type Identity } from '../support/gateway.js';

const T = '/api/v1/tenants/default';
let server: TestServer;
let sshd: Sshd;
let scratch: Awaited<ReturnType<typeof scratchDir>>;
let targetId: string;
let gatewayPort: number;
let alice: ApiClient;
let bob: ApiClient;
const aliceEmail = `alice.${randomBytes(3).toString('hex')}@example.com`;


const identityOf = (client: ApiClient, name: string): Promise<Identity> => sharedIdentityOf(client, scratch.dir, name);

const sshArgs = (id: Identity, command: string[], extra: string[] = []): string[] =>
  gatewaySshArgs({ port: gatewayPort, knownHosts: path.join(scratch.dir, 'known_hosts'), user: 'web-hosts', id, command, extra });
const sshEnv = () => gatewaySshEnv(scratch.dir);
const ssh = (id: Identity, command: string[], extra: string[] = [], input?: string): Promise<ExecResult> =>
  runArgv('/usr/bin/ssh', sshArgs(id, command, extra), { env: sshEnv(), timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });

const sessionsOf = async (grantId: string) => (await server.admin.get(`${T}/gateway-sessions?grantId=${grantId}`)).body.items as Array<Record<string, any>>;
const issuedFor = (grantId: string) =>
  credentialsDb(server.tb.store.db).selectFrom('issued_credentials').selectAll().where('grant_id', '=', grantId).orderBy('created_at').execute();

async function grantFor(client: ApiClient, seconds: number): Promise<{ id: string; expiresAt: string }> {
  const r = await client.post(`${T}/requests`, { targetId, entitlements: ['deploy'], durationSeconds: seconds, reason: 'CHG-42 deploy through the gateway' });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.state).toBe('active');
  return { id: r.body.id as string, expiresAt: r.body.expiresAt as string };
}

beforeAll(async () => {
  scratch = await scratchDir();
  server = await startTestServer({ env: { TIMEBOX_GATEWAY_PORT: '0', TIMEBOX_GATEWAY_RECORDINGS_DIR: path.join(scratch.dir, 'recordings') } });
  gatewayPort = server.tb.gateway!.port;
  const added = await server.admin.post(`${T}/targets`, { name: 'web-hosts', kind: 'ssh-certificate', config: { principalsAllowed: ['deploy'] } });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  targetId = added.body.target.id;
  const policy = await server.admin.post(`${T}/policies`, { name: 'deploy', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
  expect(policy.status).toBe(201);
  expect((await server.admin.post(`${T}/ca/ssh`)).status).toBe(200);
  alice = await addOperator(server, aliceEmail, ['requester']);
  bob = await addOperator(server, `bob.${randomBytes(3).toString('hex')}@example.com`, ['requester']);

  // The host trusts the tenant's CA (from the public endpoint) and nothing else: no keys, no passwords.
  const trusted = await fetch(new URL(`${T}/ca/ssh`, server.url));
  sshd = await startSshd({ users: ['deploy'], trustedUserCaKeys: await trusted.text() });
  const scan = await runArgv('/usr/bin/ssh-keyscan', ['-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1']);
  const line = scan.stdout.split('\n').find((l) => l.includes('ssh-ed25519'));
  if (!line) throw new Error(`ssh-keyscan: ${scan.stderr}`);
  const dest = await server.admin.call('PUT', `${T}/targets/${targetId}/gateway-destination`, { host: '127.0.0.1', port: sshd.port, hostKey: line });
  expect(dest.status, JSON.stringify(dest.body)).toBe(200);
  const info = (await alice.get('/api/v1/gateway')).body;
  await writeFile(path.join(scratch.dir, 'known_hosts'), `[127.0.0.1]:${gatewayPort} ${info.hostKey}\n`);
}, 120_000);

afterAll(async () => {
  await sshd?.stop();
  await server?.close();
  await scratch?.remove();
});

it('a person with a grant gets a shell as the grant principal; the gateway signs in with a certificate issued for the grant, shown to nobody', async () => {
  const grant = await grantFor(alice, 600);
  const id = await identityOf(alice, 'alice');
  const r = await ssh(id, ['id', '-un;', 'echo', 'through-the-gateway']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe('deploy\nthrough-the-gateway\n');

  // A shell on a terminal: typed commands run.
  const shell = await ssh(id, [], ['-tt'], 'echo shell-$((40+2))\nexit\n');
  expect(shell.code, shell.stderr).toBe(0);
  expect(shell.stdout).toContain('shell-42');
  const sessions = await waitUntil('both sessions recorded and closed', 15_000, async () => {
    const all = await sessionsOf(grant.id);
    return all.length === 2 && all.every((s) => !s.live) ? all : null;
  });
  expect(sessions.map((s) => s.account)).toEqual(['deploy', 'deploy']);

  // sshd logged in the gateway's certificates: the key id names the grant and the person.
  const keyId = `timebox:${grant.id}:gateway:${aliceEmail}`;
  expect(sshd.log()).toContain(`ID "${keyId}"`);
  // One certificate per session, recorded against the grant: principal deploy, short, inside the grant.
  const issued = (await issuedFor(grant.id)).filter((c) => c.subject === `gateway:${aliceEmail}`);
  expect(issued).toHaveLength(2);
  for (const c of issued) {
    expect(c.principals).toEqual(['deploy']);
    expect(+c.not_after - +c.not_before).toBeLessThanOrEqual(180_000);
    expect(+c.not_after).toBeLessThanOrEqual(Date.parse(grant.expiresAt));
  }
  // Nothing the person can read names the gateway's certificates.
  const seen = JSON.stringify([(await alice.get(`${T}/grants/${grant.id}`)).body, (await alice.post(`${T}/grants/${grant.id}/credential`, {})).body]);
  for (const c of issued) expect(seen).not.toContain(`"${c.serial}"`);
  expect(seen).not.toContain('gateway:');

  // Output beyond every window on the way arrives whole: the session's end never cuts its tail.
  const big = await ssh(id, ['seq', '1', '400000']);
  expect(big.code, big.stderr).toBe(0);
  expect(big.stdout.length).toBe(Array.from({ length: 400_000 }, (_, i) => String(i + 1).length + 1).reduce((a, b) => a + b, 0));

  // No grant: refused before any certificate is issued.
  const before = (await credentialsDb(server.tb.store.db).selectFrom('issued_credentials').select('id').execute()).length;
  const refused = await ssh(await identityOf(bob, 'bob'), ['true']);
  expect(refused.code).toBe(255);
  expect(refused.stderr).toMatch(/Permission denied/);
  expect((await credentialsDb(server.tb.store.db).selectFrom('issued_credentials').select('id').execute()).length).toBe(before);
}, 120_000);

it('the session is cut within a second of the grant end; afterwards the gateway refuses and no certificate of the grant works', async () => {
  const grant = await grantFor(bob, 30);
  const id = await identityOf(bob, 'bob-held');
  const child = spawn('/usr/bin/ssh', sshArgs(id, ['echo', 'held;', 'sleep', '600']), { env: sshEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (err += String(d)));
  const ended = new Promise<number>((resolve) => child.once('exit', () => resolve(Date.now())));
  await waitUntil('the held session runs', 20_000, async () => out.includes('held'));
  const at = await ended;
  const lateMs = at - Date.parse(grant.expiresAt);
  console.log(`gateway closed the SSH-certificate session ${lateMs} ms after the grant's end`);
  expect(lateMs).toBeGreaterThanOrEqual(-50);
  expect(lateMs).toBeLessThan(1000);
  expect(err).toMatch(/your access ends in \d+ s/);
  const session = await waitUntil('the session ended', 10_000, async () => (await sessionsOf(grant.id)).find((s) => s.endReason === 'grant_ended') ?? null);
  expect(session.live).toBe(false);

  const after = await ssh(await identityOf(bob, 'bob-after'), ['true']);
  expect(after.code).toBe(255);
  // Every certificate of the grant is revoked or past its end: none opens the host any more.
  const live = await waitUntil('the grant ended', 20_000, async () => {
    const rows = await issuedFor(grant.id);
    return rows.every((c) => c.revoked_at !== null || +c.not_after <= Date.now()) ? rows : null;
  });
  expect(live.some((c) => c.subject.startsWith('gateway:'))).toBe(true);
}, 120_000);

it("keeps the target's limits in the gateway's certificate: its forced command runs, and a source address the gateway is not at refuses", async () => {
  const hostKey = (await runArgv('/usr/bin/ssh-keyscan', ['-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1'])).stdout.split('\n').find((l) => l.includes('ssh-ed25519'))!;
  const limited = async (name: string, limits: Record<string, unknown>) => {
    const added = await server.admin.post(`${T}/targets`, { name, kind: 'ssh-certificate', config: { principalsAllowed: ['deploy'], ...limits } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const id = added.body.target.id as string;
    expect((await server.admin.post(`${T}/policies`, { name, targetId: id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 })).status).toBe(201);
    expect((await server.admin.call('PUT', `${T}/targets/${id}/gateway-destination`, { host: '127.0.0.1', port: sshd.port, hostKey })).status).toBe(200);
    const r = await alice.post(`${T}/requests`, { targetId: id, entitlements: ['deploy'], durationSeconds: 600, reason: 'CHG-43 limited target' });
    expect(r.body.state, JSON.stringify(r.body)).toBe('active');
  };
  const through = async (user: string, command: string[]) =>
    runArgv('/usr/bin/ssh', gatewaySshArgs({ port: gatewayPort, knownHosts: path.join(scratch.dir, 'known_hosts'), user, id: await identityOf(alice, `alice-${user}`), command }), { env: sshEnv(), timeoutMs: 30_000 });

  await limited('forced-hosts', { forceCommand: 'echo FORCED-ONLY', extensions: [] });
  const forced = await through('forced-hosts', ['id', '-un']);
  expect(forced.code, forced.stderr).toBe(0);
  expect(forced.stdout).toBe('FORCED-ONLY\n');

  await limited('fenced-hosts', { sourceAddresses: ['10.99.99.99/32'] });
  const fenced = await through('fenced-hosts', ['echo', 'should-not-run']);
  expect(fenced.code).not.toBe(0);
  expect(fenced.stdout).not.toContain('should-not-run');
}, 120_000);

it("a certificate of a self-made CA is refused again and again without filling the audit log", async () => {
  // Anyone can make a CA and sign a certificate with any name in it; it names nobody Timebox knows.
  const ca = path.join(scratch.dir, `rogue-ca-${randomBytes(3).toString('hex')}`);
  const key = `${ca}-user`;
  for (const argv of [['-q', '-t', 'ed25519', '-N', '', '-f', ca], ['-q', '-t', 'ed25519', '-N', '', '-f', key], ['-q', '-s', ca, '-I', `operator:${randomBytes(8).toString('hex')}`, '-n', 'x', key]]) {
    const r = await runArgv('/usr/bin/ssh-keygen', argv);
    expect(r.code, r.stderr).toBe(0);
  }
  const audited = async () => (await server.admin.get(`${T}/audit?action=gateway.access_refused&limit=200`)).body.items.length as number;
  const before = await audited();
  for (let i = 0; i < 5; i++) {
    const r = await runArgv('/usr/bin/ssh', gatewaySshArgs({ port: gatewayPort, knownHosts: path.join(scratch.dir, 'known_hosts'), user: 'x'.repeat(200), id: { keyFile: key, certFile: `${key}-cert.pub` }, command: ['true'] }), { env: sshEnv(), timeoutMs: 30_000 });
    expect(r.code).toBe(255);
  }
  expect(await audited()).toBe(before);
}, 60_000);

it('ending a person\'s sign-ins closes their open gateway connection: the running session ends and nothing new opens', async () => {
  const carl = await addOperator(server, `carl.${randomBytes(3).toString('hex')}@example.com`, ['requester']);
  const carlId = (await carl.get('/api/v1/me')).body.operator.id as string;
  const keyFile = path.join(scratch.dir, `carl-${randomBytes(3).toString('hex')}`);
  expect((await runArgv('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile])).code).toBe(0);
  expect((await carl.post('/api/v1/me/ssh-keys', { name: 'laptop', publicKey: await readFile(`${keyFile}.pub`, 'utf8') })).status).toBe(201);
  await grantFor(carl, 600);

  // One connection held open (as ControlMaster keeps one), a session running in it.
  const conn = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    conn.once('ready', () => resolve()).once('error', reject).connect({ host: '127.0.0.1', port: gatewayPort, username: 'web-hosts', privateKey: readFileSync(keyFile), readyTimeout: 10_000 });
  });
  const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  conn.on('error', () => {});
  const exec = (command: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      conn.exec(command, (err, ch) => {
        if (err) return resolve({ code: null, out: err.message });
        let out = '';
        ch.on('data', (d: Buffer) => (out += String(d)));
        ch.stderr.on('data', (d: Buffer) => (out += String(d)));
        ch.on('close', (code: number | null) => resolve({ code, out }));
      });
    });
  expect((await exec('echo before')).out).toBe('before\n');
  let held = '';
  const running = new Promise<void>((resolve) => {
    conn.exec('echo held; sleep 600', (err, ch) => {
      if (err) return resolve();
      ch.on('data', (d: Buffer) => (held += String(d)));
      ch.on('close', () => resolve());
    });
  });
  await waitUntil('the held session runs', 20_000, async () => held.includes('held'));

  expect((await server.admin.post(`${T}/members/${carlId}/end-sessions`, { reason: 'laptop stolen' })).status).toBe(200);
  await running;
  // The connection is still there, but opens nothing any more: it is closed at the next try.
  const after = await exec('echo after');
  expect(after.out).not.toContain('after\n');
  await closed;
  const ended = await waitUntil('the session is recorded as ended', 10_000, async () =>
    (await server.admin.get(`${T}/gateway-sessions`)).body.items.find((s: { operatorEmail?: string; endReason: string | null }) => s.endReason === 'signed_out') ?? null,
  );
  expect(ended.live).toBe(false);
}, 60_000);

it('port forwarding, where the policy and the target allow it, reaches the host through the gateway', async () => {
  const hostKey = (await runArgv('/usr/bin/ssh-keyscan', ['-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1'])).stdout.split('\n').find((l) => l.includes('ssh-ed25519'))!;
  const added = await server.admin.post(`${T}/targets`, { name: 'tunnel-hosts', kind: 'ssh-certificate', config: { principalsAllowed: ['deploy'], extensions: ['permit-pty', 'permit-port-forwarding'] } });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  const id = added.body.target.id as string;
  const policy = await server.admin.post(`${T}/policies`, {
    name: 'tunnel', targetId: id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, rules: { gateway: { allowPortForwarding: true } },
  });
  expect(policy.status, JSON.stringify(policy.body)).toBe(201);
  expect((await server.admin.call('PUT', `${T}/targets/${id}/gateway-destination`, { host: '127.0.0.1', port: sshd.port, hostKey })).status).toBe(200);
  expect((await alice.post(`${T}/requests`, { targetId: id, entitlements: ['deploy'], durationSeconds: 600, reason: 'CHG-44 a tunnel' })).body.state).toBe('active');
  // -W to the host's own sshd, opened from the host: its banner comes back through the tunnel.
  const args = gatewaySshArgs({ port: gatewayPort, knownHosts: path.join(scratch.dir, 'known_hosts'), user: 'tunnel-hosts', id: await identityOf(alice, 'alice-tunnel'), command: [], extra: ['-W', `127.0.0.1:${sshd.port}`] });
  const r = await runArgv('/usr/bin/ssh', args, { env: sshEnv(), timeoutMs: 30_000, input: '' });
  expect(r.stdout, r.stderr).toMatch(/^SSH-2\.0-/);
}, 60_000);
