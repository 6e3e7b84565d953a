/**
 * A linux-agent-users target through the gateway: the person's existing user on the host has no
 * password Timebox knows, so the gateway logs in with a certificate it has Timebox issue for the
 * session (the tenant's SSH CA, principal = that user, short, inside the grant). The host's sshd
 * trusts the tenant's CA (TrustedUserCAKeys, the file the agent's `sshTrust` keeps current), runs
 * in a throwaway namespace with an enrolled agent applying the grant's group. The system OpenSSH
 * client → gateway → sshd: the person gets a shell as their user with the granted group during the
 * grant, once an administrator confirmed the user is theirs; before that, without a grant, and
 * after the grant is revoked, the gateway refuses.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { createHostNamespace, type HostNamespace, type NsSshd } from '../harness/host-namespace.js';
import { runArgv, type ExecResult } from '../harness/sshd.js';
import { waitUntil, type AgentProcess } from '../agent/support.js';
import type { ApiClient } from '../support/http.js';
import { addMember, enrolledAgent, policyFor, startRestartableServer, type RestartableServer } from '../e2e/agent-support.js';
import { gatewaySshArgs, gatewaySshEnv, identityOf as sharedIdentityOf, type Identity } from '../support/gateway.js';

const T = '/api/v1/tenants/default';
const CA_KEYS = '/etc/ssh/timebox_user_ca.pub';
let server: RestartableServer;
let ns: HostNamespace;
let sshd: NsSshd;
let agent: AgentProcess | undefined;
let dir: string;
let targetId: string;
let gatewayPort: number;


const identityOf = (client: ApiClient, name: string): Promise<Identity> => sharedIdentityOf(client, dir, name);

const ssh = (id: Identity, command: string[]): Promise<ExecResult> =>
  runArgv('/usr/bin/ssh', gatewaySshArgs({ port: gatewayPort, knownHosts: path.join(dir, 'known_hosts'), user: 'web-users', id, command }), { env: gatewaySshEnv(dir), timeoutMs: 30_000 });


beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tb-gateway-users-'));
  server = await startRestartableServer({ TIMEBOX_GATEWAY_PORT: '0', TIMEBOX_GATEWAY_RECORDINGS_DIR: path.join(dir, 'recordings') });
  gatewayPort = server.tb.gateway!.port;
  ns = await createHostNamespace();
  for (const argv of [['useradd', '-m', '-s', '/bin/sh', 'carol'], ['groupadd', 'ops']]) {
    const r = await ns.exec(argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  }
  // The host trusts the tenant's SSH CA, as the agent's sshTrust.trustedCaKeysFile keeps it.
  expect((await server.admin.post(`${T}/ca/ssh`)).status).toBe(200);
  const trusted = await (await fetch(new URL(`${T}/ca/ssh`, server.url))).text();
  const tee = await ns.exec(['tee', CA_KEYS], { input: trusted });
  if (tee.code !== 0) throw new Error(`writing ${CA_KEYS}: ${tee.stderr}`);
  sshd = await ns.startSshd({ trustedUserCaKeysFile: CA_KEYS });

  const enrolled = await enrolledAgent(server, ns, await mkdtemp(path.join(dir, 'agent-')));
  agent = await enrolled.run();
  const added = await server.admin.post(`${T}/targets`, { name: 'web-users', kind: 'linux-agent-users', config: { agentId: enrolled.agentId, groups: ['ops'] } });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  targetId = added.body.target.id as string;
  await policyFor(server.admin, targetId, 'web-users', 3600);

  const scan = await runArgv('/usr/bin/ssh-keyscan', ['-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1']);
  const line = scan.stdout.split('\n').find((l) => l.includes('ssh-ed25519'));
  if (!line) throw new Error(`ssh-keyscan: ${scan.stderr}`);
  const dest = await server.admin.call('PUT', `${T}/targets/${targetId}/gateway-destination`, { host: '127.0.0.1', port: sshd.port, hostKey: line });
  expect(dest.status, JSON.stringify(dest.body)).toBe(200);
  const info = (await server.admin.get('/api/v1/gateway')).body;
  await writeFile(path.join(dir, 'known_hosts'), `[127.0.0.1]:${gatewayPort} ${info.hostKey}\n`);
}, 240_000);

afterAll(async () => {
  await agent?.kill9();
  await ns?.destroy();
  await server?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('an existing user reaches the host through the gateway during the grant only, with a certificate issued for the grant', async () => {
  onTestFailed(() => console.error(sshd.log().slice(-3000), agent?.output()));
  const carol = await addMember(server, 'carol@example.test', ['requester']);
  const bob = await addMember(server, 'bob@example.test', ['requester']);

  const grant = await carol.post(`${T}/requests`, { targetId, entitlements: ['group:ops'], durationSeconds: 600, reason: 'INC-7 host maintenance', accountName: 'carol' });
  expect(grant.status, JSON.stringify(grant.body)).toBe(201);
  expect(grant.body).toMatchObject({ state: 'active', username: 'carol', credentialAvailable: false });
  const id = await identityOf(carol, 'carol');
  // "carol" is only the name she gave: the gateway waits until an administrator confirms it is hers.
  const unconfirmed = await ssh(id, ['true']);
  expect(unconfirmed.code).toBe(255);
  const refused = (await server.admin.get(`${T}/audit?action=gateway.access_refused`)).body.items;
  expect(JSON.stringify(refused)).toContain('binding_unconfirmed');
  const account = (await server.admin.get(`${T}/jit-accounts`)).body.items.find((a: { username: string }) => a.username === 'carol');
  expect(account.confirmedAt).toBeNull();
  const own = await carol.post(`${T}/jit-accounts/${account.id}/confirm`);
  expect(own.status).toBe(403);
  const confirmed = await server.admin.post(`${T}/jit-accounts/${account.id}/confirm`);
  expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
  expect((await server.admin.get(`${T}/audit?action=jit_account.binding_confirmed`)).body.items).toHaveLength(1);
  // The agent adds carol to ops; a login after that has the group.
  const r = await waitUntil('carol logs in through the gateway with the group', 60_000, async () => {
    const x = await ssh(id, ['id', '-un;', 'id', '-Gn']);
    return x.code === 0 && /\bops\b/.test(x.stdout) ? x : null;
  });
  expect(r.stdout.split('\n')[0]).toBe('carol');
  expect(sshd.log()).toContain(`ID "timebox:${grant.body.id}:gateway:carol@example.test"`);

  // No grant: refused.
  expect((await ssh(await identityOf(bob, 'bob'), ['true'])).code).toBe(255);

  // Revoked: refused, with a fresh gateway certificate too.
  expect((await server.admin.post(`${T}/grants/${grant.body.id}/revoke`, { reason: 'INC-7 done' })).status).toBe(200);
  const after = await ssh(await identityOf(carol, 'carol-after'), ['true']);
  expect(after.code).toBe(255);
  expect(after.stderr).toMatch(/Permission denied/);
}, 180_000);
