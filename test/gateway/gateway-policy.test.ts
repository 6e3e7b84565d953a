/**
 * What a policy lets through the SSH gateway, shown with the system OpenSSH client → `timebox
 * gateway` (its own process) → a real sshd whose accounts the agent manages:
 * - `ssh -J gateway account@web-01` ends at the gateway itself, which signs the person in again and
 *   runs the recorded session; refused without a grant and after it ended; the inner host key is
 *   the gateway's, pinned with the lines `timebox gateway fingerprint --known-hosts` prints;
 * - "gateway only": the password is never shown (the credential endpoint refuses), the gateway
 *   lets the person in; e-mail delivery cannot be combined with it;
 * - SFTP and port forwarding refused by default, relayed under a policy that allows them, with each
 *   file transferred logged by name and size; keystrokes recorded when the policy asks;
 * - retention: a recording older than the tenant's retention is removed (row kept, audited), a
 *   newer one kept.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, inject, it, onTestFailed, onTestFinished } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { systemClock } from '../../src/core/clock.js';
import { sweepRecordings } from '../../src/gateway/recording-retention.js';
import { localRecordingStore } from '../../src/gateway/recording-store.js';
import { openStore } from '../../src/store/db.js';
import { gatewayDb } from '../../src/store/schema-gateway.js';
import { waitUntil, type AgentProcess } from '../agent/support.js';
import { addMember, enrolledAgent, hostTargetWithPolicy, startRestartableServer, type RestartableServer } from '../e2e/agent-support.js';
import { compiledEntry } from '../harness/compiled.js';
import { createHostNamespace, freePort, type HostNamespace, type NsSshd } from '../harness/host-namespace.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { runArgv } from '../harness/sshd.js';
import { identityOf, sshConfigFor, sshEnv, sshWith, startGatewayProcess, type GatewayProcess } from '../support/gateway-e2e.js';
import type { ApiClient } from '../support/http.js';

const T = '/api/v1/tenants/default';
let db: TestDatabase;
let server: RestartableServer;
let ns: HostNamespace;
let sshd: NsSshd;
let agent: AgentProcess;
let targetId: string;
let dir: string;
let recordingsDir: string;
let gw: GatewayProcess;
let knownHosts: string;
let ann: ApiClient;
let bob: ApiClient;
let cat: ApiClient;
let dan: ApiClient;
let auditor: ApiClient;
let openPolicyId: string;
let onlyPolicyId: string;
const masterKey = randomBytes(32).toString('base64');

async function requestGrant(client: ApiClient, account: string, policyId?: string): Promise<{ id: string; expiresAt: string; body: Record<string, any> }> {
  const r = await client.post(`${T}/requests`, { targetId, entitlements: ['users'], durationSeconds: 600, reason: 'INC-78 gateway policy test', accountName: account, ...(policyId ? { policyId } : {}) });
  if (r.status !== 201) throw new Error(`request: ${r.status} ${JSON.stringify(r.body)}`);
  expect(r.body.state).toBe('active');
  await waitUntil(`${account} on the host`, 30_000, async () => (await ns.exec(['getent', 'passwd', account])).code === 0);
  return { id: r.body.id as string, expiresAt: r.body.expiresAt as string, body: r.body };
}

async function configOf(client: ApiClient, name: string): Promise<string> {
  return sshConfigFor(dir, name, gw.port, await identityOf(client, dir, name), knownHosts);
}

/** A plain connection to the gateway naming the target as the SSH user. */
const direct = (config: string, args: string[], input?: string) => sshWith(config, dir, ['-p', String(gw.port), ...args], input);
const viaJump = (config: string, account: string, command: string[]) => sshWith(config, dir, ['-J', 'gw', `${account}@web-01`, '--', ...command]);
/** Waits until the agent has the account ready (the gateway logs in with its password). */
const usable = (config: string) => waitUntil('a login through the gateway', 60_000, async () => (await direct(config, ['web-01@127.0.0.1', 'true'])).code === 0);

const sessionsOf = async (grantId: string) => (await auditor.get(`${T}/gateway-sessions?grantId=${grantId}`)).body.items as Array<Record<string, any>>;
const auditOf = async (action: string) => ((await server.admin.get(`${T}/audit?action=${action}&limit=200`)).body.items ?? []) as Array<Record<string, any>>;
const recordingText = async (sessionId: string) => {
  const r = await auditor.call('GET', `${T}/gateway-sessions/${sessionId}/recording`);
  return { status: r.status, text: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) };
};

/** The CLI as `client` (a fresh API token). */
async function cli(client: ApiClient, args: string[]) {
  const token = (await client.post('/api/v1/tokens', { name: `cli-${randomBytes(3).toString('hex')}` })).body.token as string;
  return runArgv(process.execPath, [compiledEntry('cli/main'), ...args], {
    env: { ...process.env, TIMEBOX_SERVER: server.url, TIMEBOX_TOKEN: token, TIMEBOX_CONFIG: path.join(dir, 'no-cli.json'), HOME: dir },
    timeoutMs: 60_000,
  });
}

beforeAll(async () => {
  db = await createTestDatabase(inject('pgAdminUrl'));
  dir = await mkdtemp(path.join(tmpdir(), 'tb-gateway-policy-'));
  recordingsDir = path.join(dir, 'recordings');
  const gwPort = await freePort();
  server = await startRestartableServer({
    DATABASE_URL: db.url,
    TIMEBOX_MASTER_KEY: masterKey,
    TIMEBOX_GATEWAY_RECORDINGS_DIR: recordingsDir,
    TIMEBOX_GATEWAY_PUBLIC_ADDRESS: `127.0.0.1:${gwPort}`,
  });
  ns = await createHostNamespace();
  sshd = await ns.startSshd({ sftp: true });
  const enrolled = await enrolledAgent(server, ns, await mkdtemp(path.join(dir, 'agent-')));
  agent = await enrolled.run();
  targetId = (await hostTargetWithPolicy(server.admin, enrolled.agentId, {}, 3600)).targetId;
  const policy = (name: string, gateway: Record<string, boolean>) =>
    server.admin.post(`${T}/policies`, { name, targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, rules: { gateway } });
  const open = await policy('web-01 open gateway', { allowSftp: true, allowPortForwarding: true, recordInput: true });
  expect(open.status, JSON.stringify(open.body)).toBe(201);
  openPolicyId = open.body.id;
  const only = await policy('web-01 gateway only', { only: true });
  expect(only.status, JSON.stringify(only.body)).toBe(201);
  onlyPolicyId = only.body.id;
  ann = await addMember(server, 'ann@example.test', ['requester']);
  bob = await addMember(server, 'bob@example.test', ['requester']);
  cat = await addMember(server, 'cat@example.test', ['requester']);
  dan = await addMember(server, 'dan@example.test', ['requester']);
  auditor = await addMember(server, 'audrey@example.test', ['auditor']);

  const scan = await runArgv('/usr/bin/ssh-keyscan', ['-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1']);
  const line = scan.stdout.split('\n').find((l) => l.includes('ssh-ed25519'));
  if (!line) throw new Error(`ssh-keyscan: ${scan.stderr}`);
  const dest = await server.admin.call('PUT', `${T}/targets/${targetId}/gateway-destination`, { host: '127.0.0.1', port: sshd.port, hostKey: line });
  expect(dest.status, JSON.stringify(dest.body)).toBe(200);

  gw = await startGatewayProcess(
    {
      DATABASE_URL: db.url,
      TIMEBOX_MASTER_KEY: masterKey,
      TIMEBOX_DATA_DIR: dir,
      TIMEBOX_GATEWAY_RECORDINGS_DIR: recordingsDir,
      TIMEBOX_GATEWAY_ID: 'gateway-policy-under-test',
      // The slowest poll allowed (the default is 250 ms), so a test can mostly tell a refusal at
      // the door from the poll's; gateway-ssh.test.ts covers the poll itself.
      TIMEBOX_GATEWAY_POLL_MS: '5000',
      TIMEBOX_OUTBOUND_ALLOW: 'loopback',
      TIMEBOX_LOG_LEVEL: process.env.TIMEBOX_TEST_LOG ?? 'warn',
    },
    gwPort,
  );
  // The pins, as documented: the CLI prints the gateway's line and one for the targets reached with -J.
  const pins = await cli(ann, ['gateway', 'fingerprint', '--known-hosts', 'web-01']);
  expect(pins.code, pins.stderr).toBe(0);
  knownHosts = path.join(dir, 'known_hosts');
  await writeFile(knownHosts, pins.stdout);
  expect(pins.stdout).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${gwPort} ssh-ed25519 `, 'm'));
  expect(pins.stdout).toMatch(/^web-01 ssh-ed25519 /m);
}, 240_000);

afterAll(async () => {
  await gw?.stop();
  await agent?.kill9();
  await ns?.destroy();
  await server?.destroy();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('ssh -J through the gateway: a recorded session with a grant; refused without one and after it ended', async () => {
  onTestFailed(() => console.error(gw.output()));
  const grant = await requestGrant(ann, 'tbgpann');
  const config = await configOf(ann, 'ann');
  await usable(config);
  // The account in the inner user name is free: the session runs as the grant's account.
  const r = await viaJump(config, 'tbgpann', ['id', '-un;', 'echo', 'jumped']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe('tbgpann\njumped\n');
  const session = await waitUntil('the jumped session is recorded', 20_000, async () =>
    (await sessionsOf(grant.id)).find((s) => !s.live && String(s.command).includes('jumped')) ?? null,
  );
  expect(session).toMatchObject({ kind: 'exec', account: 'tbgpann', targetName: 'web-01' });
  expect((await recordingText(session.id)).text).toContain('jumped');

  // Bob holds no grant: the jump's channel is refused, and audited.
  const bobConfig = await configOf(bob, 'bob');
  const refused = await viaJump(bobConfig, 'whoever', ['true']);
  expect(refused.code).toBe(255);
  expect(refused.stderr).toMatch(/administratively prohibited|open failed|stdio forwarding failed/);
  await waitUntil('the refused jump is audited', 10_000, async () => (await auditOf('gateway.access_refused')).find((e) => JSON.stringify(e).includes('no_active_grant')) ?? null);

  // After the grant's end the same jump is refused.
  expect((await server.admin.post(`${T}/grants/${grant.id}/revoke`, { reason: 'INC-78 done' })).status).toBe(200);
  await waitUntil('the grant ended', 30_000, async () => (await ann.get(`${T}/grants/${grant.id}`)).body.state !== 'active');
  const after = await viaJump(config, 'tbgpann', ['true']);
  expect(after.code).toBe(255);
  expect((await sessionsOf(grant.id)).every((s) => !s.live)).toBe(true);
}, 180_000);

it('gateway only: the password is never shown, the gateway lets the person in; e-mail delivery cannot be combined with it', async () => {
  onTestFailed(() => console.error(gw.output()));
  const grant = await requestGrant(cat, 'tbgpcat', onlyPolicyId);
  expect(grant.body).toMatchObject({ gatewayOnly: true, credentialAvailable: false });
  const reveal = await cat.post(`${T}/grants/${grant.id}/credential`, {});
  expect(reveal.status).toBe(409);
  expect(reveal.body.error.message).toMatch(/gateway only.*timebox ssh/);
  const config = await configOf(cat, 'cat');
  await usable(config);
  const r = await direct(config, ['web-01@127.0.0.1', 'id', '-un']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe('tbgpcat\n');
  // Still refused afterwards: nothing was revealed in between.
  expect((await cat.post(`${T}/grants/${grant.id}/credential`, {})).status).toBe(409);
  expect((await auditOf('grant.credential_revealed')).some((e) => e.subject?.id === grant.id || JSON.stringify(e).includes(grant.id))).toBe(false);

  // A target named by a gateway-only policy cannot switch to e-mail delivery; a policy without a target cannot be gateway only.
  const before = (await server.admin.get(`${T}/targets/${targetId}`)).body;
  const toEmail = await server.admin.call('PUT', `${T}/targets/${targetId}`, { config: { credentialDelivery: 'server-email' } });
  expect(toEmail.status).toBe(400);
  expect(toEmail.body.error.message).toMatch(/gateway only/);
  const after = (await server.admin.get(`${T}/targets/${targetId}`)).body;
  expect({ name: after.name, updatedAt: after.updatedAt }).toEqual({ name: before.name, updatedAt: before.updatedAt });
  const anyTarget = await server.admin.post(`${T}/policies`, { name: 'anything gateway only', requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, rules: { gateway: { only: true } } });
  expect(anyTarget.status).toBe(400);
  expect(anyTarget.body.error.message).toMatch(/gateway only/);
}, 180_000);

it('SFTP and port forwarding: refused by default, relayed under a policy that allows them, each file logged by name and size; keystrokes recorded when asked', async () => {
  onTestFailed(() => console.error(gw.output()));
  // Default policy: refused and audited.
  await requestGrant(bob, 'tbgpbob');
  const bobConfig = await configOf(bob, 'bob2');
  await usable(bobConfig);
  const batch = path.join(dir, 'sftp-batch');
  await writeFile(batch, 'ls /\n');
  const noSftp = await runArgv('/usr/bin/sftp', ['-F', bobConfig, '-P', String(gw.port), '-b', batch, 'web-01@127.0.0.1'], { env: sshEnv(dir), timeoutMs: 30_000 });
  expect(noSftp.code).not.toBe(0);
  const noForward = await direct(bobConfig, ['-W', `127.0.0.1:${sshd.port}`, 'web-01@127.0.0.1'], '');
  expect(noForward.code).not.toBe(0);
  expect(noForward.stdout).not.toContain('SSH-2.0');
  const refusals = JSON.stringify(await auditOf('gateway.feature_refused'));
  expect(refusals).toContain('subsystem:sftp');
  expect(refusals).toContain(`port_forwarding:127.0.0.1:${sshd.port}`);

  // Under the open policy.
  const grant = await requestGrant(dan, 'tbgpdan', openPolicyId);
  const config = await configOf(dan, 'dan');
  await usable(config);
  const upload = path.join(dir, 'upload.bin');
  await writeFile(upload, randomBytes(200_000));
  const remote = `/tmp/tbgp-upload-${randomBytes(4).toString('hex')}.bin`;
  // The host's /tmp is the machine's: the uploaded file is removed whatever the test's outcome.
  onTestFinished(() => rm(remote, { force: true }));
  const download = path.join(dir, 'passwd.copy');
  await writeFile(batch, `put ${upload} ${remote}\nget /etc/passwd ${download}\n`);
  const sftp = await runArgv('/usr/bin/sftp', ['-F', config, '-P', String(gw.port), '-b', batch, 'web-01@127.0.0.1'], { env: sshEnv(dir), timeoutMs: 60_000 });
  expect(sftp.code, `${sftp.stdout}\n${sftp.stderr}`).toBe(0);
  expect((await readFile(remote)).equals(await readFile(upload))).toBe(true);
  const downloaded = (await stat(download)).size;
  expect(downloaded).toBeGreaterThan(0);
  const transfers = await waitUntil('both transfers audited', 20_000, async () => {
    const all = (await auditOf('gateway.sftp_transfer')).map((e) => e.after ?? e);
    const up = all.find((a) => a.path === remote);
    const down = all.find((a) => a.path === '/etc/passwd');
    return up && down ? { up, down } : null;
  });
  expect(transfers.up).toMatchObject({ direction: 'upload', bytesWritten: 200_000, bytesRead: 0 });
  expect(transfers.down).toMatchObject({ direction: 'download', bytesRead: downloaded, bytesWritten: 0 });
  const sftpSession = await waitUntil('the sftp session ended', 20_000, async () => (await sessionsOf(grant.id)).find((s) => s.kind === 'sftp' && !s.live) ?? null);
  const log = (await recordingText(sftpSession.id)).text;
  expect(log).toContain(`sftp upload ${JSON.stringify(remote).replace(/"/g, '\\"')}`);
  expect(log).toContain('written 200000 bytes');

  // A rename and a removal move no bytes, and change what the host holds: logged too.
  const renamed = `${remote}.renamed`;
  onTestFinished(() => rm(renamed, { force: true }));
  await writeFile(batch, `rename ${remote} ${renamed}\nrm ${renamed}\n`);
  const changes = await runArgv('/usr/bin/sftp', ['-F', config, '-P', String(gw.port), '-b', batch, 'web-01@127.0.0.1'], { env: sshEnv(dir), timeoutMs: 60_000 });
  expect(changes.code, `${changes.stdout}\n${changes.stderr}`).toBe(0);
  const operations = await waitUntil('the rename and the removal audited', 20_000, async () => {
    const all = (await auditOf('gateway.sftp_operation')).map((e) => e.after ?? e);
    const rename = all.find((a) => a.operation === 'rename' && a.paths?.[0] === remote);
    const removal = all.find((a) => a.operation === 'remove' && a.paths?.[0] === renamed);
    return rename && removal ? { rename, removal } : null;
  });
  expect(operations.rename.paths).toEqual([remote, renamed]);

  // -W is a direct-tcpip channel like -L: opened from the host, to the host's own sshd here.
  const forward = await direct(config, ['-W', `127.0.0.1:${sshd.port}`, 'web-01@127.0.0.1'], '');
  expect(forward.stdout).toMatch(/^SSH-2\.0-OpenSSH/);
  const opened = await waitUntil('the forward audited', 10_000, async () => (await auditOf('gateway.port_forward_opened')).find((e) => JSON.stringify(e).includes(`127.0.0.1:${sshd.port}`)) ?? null);
  expect(opened).toBeTruthy();

  // Keystrokes into the recording under this policy (the server-wide setting is off).
  const shell = await direct(config, ['-tt', 'web-01@127.0.0.1'], 'echo typed-$((6*7))\nexit\n');
  expect(shell.stdout).toContain('typed-42');
  const shellSession = await waitUntil('the shell session ended', 20_000, async () => (await sessionsOf(grant.id)).find((s) => s.kind === 'shell' && !s.live) ?? null);
  const events = (await recordingText(shellSession.id)).text.trim().split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string]);
  expect(events.filter((e) => e[1] === 'i').map((e) => e[2]).join('')).toContain('echo typed');

  // The CLI edits the options as a new version; the running grant keeps the version it was given under.
  const edited = await cli(server.admin, ['policies', 'gateway', openPolicyId, 'none', '--json']);
  expect(edited.code, edited.stderr).toBe(0);
  const version = JSON.parse(edited.stdout);
  expect(version.id).not.toBe(openPolicyId);
  expect(version.rules.gateway).toEqual({ only: false, recordInput: false, allowPortForwarding: false, allowSftp: false });
  const again = await direct(config, ['-W', `127.0.0.1:${sshd.port}`, 'web-01@127.0.0.1'], '');
  expect(again.stdout).toMatch(/^SSH-2\.0-OpenSSH/);

  // A connection held open with -L: each new forward asks again, so the moment the grant is
  // revoked a new connection through it reaches nothing, before the watch's poll ends the session.
  const localPort = await freePort();
  const held = spawn('/usr/bin/ssh', ['-F', config, '-p', String(gw.port), '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${localPort}:127.0.0.1:${sshd.port}`, 'web-01@127.0.0.1'], {
    env: sshEnv(dir),
    stdio: 'ignore',
  });
  onTestFinished(() => void held.kill());
  const banner = () =>
    new Promise<string>((resolve) => {
      let got = '';
      const sock = connect(localPort, '127.0.0.1');
      sock.setTimeout(10_000, () => sock.destroy());
      sock.on('data', (d) => {
        got += d.toString();
        if (got.includes('\n')) sock.destroy();
      });
      sock.on('error', () => {});
      sock.on('close', () => resolve(got));
    });
  await waitUntil('the held forward carries a connection', 30_000, async () => ((await banner()).startsWith('SSH-2.0') ? true : null));
  const refusedBefore = (await auditOf('gateway.access_refused')).length;
  const revoked = await dan.post(`${T}/grants/${grant.id}/revoke`, { reason: 'done with the tunnel' });
  expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
  expect(await banner()).toBe('');
  // The poll runs at its own phase: on a busy machine it may see the revocation first and end
  // the whole session (the held ssh exits), which leaves no forward to refuse.
  const refusedAfter = (await auditOf('gateway.access_refused')).length;
  if (refusedAfter === refusedBefore) await waitUntil('the poll ended the held session', 20_000, async () => (held.exitCode !== null ? true : null));
  else expect(refusedAfter).toBe(refusedBefore + 1);
}, 240_000);

it('retention: a recording older than the tenant keeps is removed (the row stays, audited); a newer one is kept', async () => {
  expect((await auditor.call('PUT', `${T}/gateway-settings`, { recordingRetentionDays: 1 })).status).toBe(403);
  const bad = await server.admin.call('PUT', `${T}/gateway-settings`, { recordingRetentionDays: 0 });
  expect(bad.status).toBe(400);
  expect((await auditor.get(`${T}/gateway-settings`)).body.recordingRetentionDays).toBe(365);
  // The CLI, as an admin: set; as an auditor: read.
  const set = await cli(server.admin, ['gateway', 'retention', '30']);
  expect(set.code, set.stderr).toBe(0);
  expect(set.stdout).toMatch(/kept 30 days .*\(saved\)/);
  const read = await cli(auditor, ['gateway', 'retention', '--json']);
  expect(JSON.parse(read.stdout)).toMatchObject({ recordingRetentionDays: 30 });

  const ended = (await auditor.get(`${T}/gateway-sessions?live=false&limit=200`)).body.items as Array<Record<string, any>>;
  expect(ended.length).toBeGreaterThanOrEqual(2);
  const [old, recent] = ended;
  const store = await openStore({ databaseUrl: db.url });
  try {
    // Moved back in time: ended 31 days ago.
    await gatewayDb(store.db)
      .updateTable('gateway_sessions')
      .set({ ended_at: new Date(Date.now() - 31 * 86_400_000) })
      .where('id', '=', old!.id)
      .execute();
    const recordings = localRecordingStore(recordingsDir);
    // The server's own sweeper may get there first (it runs hourly): what counts is the state after.
    await sweepRecordings({ db: store.db, clock: systemClock, audit: createAuditLog({ clock: systemClock }), recordings, log: pino({ level: 'silent' }) });
    expect(await recordings.read(old!.id)).toBeNull();
    expect(await recordings.read(recent!.id)).not.toBeNull();
  } finally {
    await store.close();
  }
  const gone = (await auditor.get(`${T}/gateway-sessions/${old!.id}`)).body;
  expect(gone.recordingDeletedAt).not.toBeNull();
  expect(gone.recordingSha256).toBe(old!.recordingSha256);
  const exportGone = await recordingText(old!.id);
  expect(exportGone.status).toBe(409);
  expect(exportGone.text).toMatch(/removed/);
  expect((await recordingText(recent!.id)).status).toBe(200);
  const audited = (await auditOf('gateway.recording_deleted')).filter((e) => JSON.stringify(e).includes(old!.id));
  expect(audited).toHaveLength(1);
  expect(JSON.stringify(audited[0])).toContain('"retentionDays":30');
  expect((await auditOf('gateway.recording_deleted')).some((e) => JSON.stringify(e).includes(recent!.id))).toBe(false);
}, 120_000);
