/**
 * `linux-agent-users` on a real (throwaway) host: existing users of the namespace host (created
 * with useradd there) ask through the API for a sudo rule, an impersonation rule or a local group.
 * Over a real sshd and sudo: the rule works during the grant and is refused after it; a new login
 * has the group during the grant and not after; a session opened during the grant is killed at the
 * end. Two live grants of the same user both work, and the end of one leaves the other's rule and
 * group in place. Root, system accounts, users the host does not have and role entitlements are
 * refused with clear messages, and nothing reaches the host for them.
 *
 * Grants are short (the agent uses the host's real clock) and every wait is bounded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { createHostNamespace, type HostNamespace, type NsSshd } from '../harness/host-namespace.js';
import { hostUsers, readJournal, sshRun, sshSpawn, waitForJournal, waitUntil, type AgentProcess } from '../agent/support.js';
import type { ApiClient } from '../support/http.js';
import { addMember, enrolledAgent, policyFor, startRestartableServer, type RestartableServer } from './agent-support.js';

const T = '/api/v1/tenants/default';
const PASSWORDS: Record<string, string> = { carol: 'Carol-pass-4711', erin: 'Erin-pass-4711' };
let server: RestartableServer;
let ns: HostNamespace;
let sshd: NsSshd;
let stateDir: string;
let agent: AgentProcess | undefined;
let targetId: string;

beforeAll(async () => {
  server = await startRestartableServer();
  ns = await createHostNamespace();
  sshd = await ns.startSshd();
  // Existing users of the host (in the namespace's /etc only): two people, an impersonation target, a service account.
  const setup = [
    ['useradd', '-m', '-s', '/bin/bash', 'carol'],
    ['useradd', '-m', '-s', '/bin/bash', 'erin'],
    ['useradd', '-m', '-s', '/bin/bash', 'dave'],
    ['useradd', '-r', '-s', '/usr/sbin/nologin', 'svcbot'],
    ['groupadd', 'ops'],
  ];
  for (const argv of setup) {
    const r = await ns.exec(argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  }
  const pw = await ns.exec(['chpasswd'], { input: Object.entries(PASSWORDS).map(([u, p]) => `${u}:${p}\n`).join('') });
  if (pw.code !== 0) throw new Error(`chpasswd: ${pw.stderr}`);

  stateDir = await mkdtemp(path.join(tmpdir(), 'tb-agent-users-'));
  const enrolled = await enrolledAgent(server, ns, stateDir);
  agent = await enrolled.run();
  const added = await server.admin.post(`${T}/targets`, {
    name: 'web-01 users',
    kind: 'linux-agent-users',
    config: {
      agentId: enrolled.agentId,
      sudoRules: { root: { commands: ['ALL'] }, 'as-dave': { runAs: ['dave'], commands: ['/usr/bin/id'] } },
      groups: ['ops'],
    },
  });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  expect(added.body.check.ok).toBe(true);
  targetId = added.body.target.id as string;
  await policyFor(server.admin, targetId, 'web-01 users', 3600);
});

afterAll(async () => {
  await agent?.kill9();
  await ns?.destroy();
  await server?.destroy();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  const users = await hostUsers();
  for (const u of ['carol', 'erin', 'dave', 'svcbot']) expect(users.has(u), `${u} leaked to the real host`).toBe(false);
});

const login = (user: string, command: string[]) => sshRun(sshd.port, user, PASSWORDS[user]!, command);
const ask = (client: ApiClient, entitlements: string[], durationSeconds: number, accountName?: string) =>
  client.post(`${T}/requests`, { targetId, entitlements, durationSeconds, reason: 'INC-7 host maintenance', ...(accountName ? { accountName } : {}) });
const waitForGrant = (client: ApiClient, id: string, state: string, timeoutMs: number) =>
  waitUntil(`grant ${id} ${state}`, timeoutMs, async () => {
    const g = (await client.get(`${T}/grants/${id}`)).body;
    return g.state === state ? g : null;
  });
const ended = (grantId: string, timeoutMs: number) => waitForJournal(stateDir, `${grantId} ended`, timeoutMs, (e) => e.grantId === grantId && e.event === 'ended');
const debug = () => onTestFailed(async () => console.error(agent?.output(), JSON.stringify(await readJournal(stateDir), null, 1)));

it.concurrent('sudo: elevation and impersonation work during their grants; the end of one leaves the other', async () => {
  debug();
  const carol = await addMember(server, 'carol@example.test', ['requester']);
  // The existing user's name is given once; it is then fixed for this person on this target.
  // Long enough for every check below on a busy machine (the agent applies a grant within
  // seconds, the sudo checks then take a few); the impersonation outlives the elevation by as much.
  const root = await ask(carol, ['sudo:root'], 20, 'carol');
  expect(root.status, JSON.stringify(root.body)).toBe(201);
  expect(root.body).toMatchObject({ state: 'active', username: 'carol', credentialAvailable: false });
  const asDave = await ask(carol, ['sudo:as-dave'], 35);
  expect(asDave.status, JSON.stringify(asDave.body)).toBe(201);
  expect(asDave.body).toMatchObject({ state: 'active', username: 'carol' });

  const elevated = await waitUntil('sudo works for carol', 15_000, async () => {
    const r = await login('carol', ['sudo', '-n', 'id', '-u']);
    return r.code === 0 ? r : null;
  });
  expect(elevated.stdout.trim()).toBe('0');
  const impersonated = await waitUntil('carol acts as dave', 10_000, async () => {
    const r = await login('carol', ['sudo', '-n', '-u', 'dave', 'id', '-un']);
    return r.code === 0 ? r : null;
  });
  expect(impersonated.stdout.trim()).toBe('dave');
  // Impersonation is only what the rule names: not root, not other commands.
  expect((await login('carol', ['sudo', '-n', '-u', 'dave', 'true'])).code).not.toBe(0);
  expect(Date.now()).toBeLessThan(Date.parse(root.body.expiresAt));

  // The elevation ends; the impersonation rule, a separate drop-in, stays.
  expect((await ended(root.body.id, 30_000)).verified).toMatchObject({ sudoRuleRemoved: true });
  const after = await login('carol', ['sudo', '-n', 'id', '-u']);
  expect(after.code, after.stdout).not.toBe(0);
  expect(after.stderr).toMatch(/password is required|not allowed|may not run sudo/);
  expect((await login('carol', ['sudo', '-n', '-u', 'dave', 'id', '-un'])).stdout.trim()).toBe('dave');
  expect(Date.now()).toBeLessThan(Date.parse(asDave.body.expiresAt));

  await ended(asDave.body.id, 30_000);
  expect((await login('carol', ['sudo', '-n', '-u', 'dave', 'id', '-un'])).code).not.toBe(0);
  expect((await ns.exec(['ls', '-A', '/etc/sudoers.d'])).stdout).not.toMatch(/timebox/);
  expect((await waitForGrant(carol, root.body.id, 'revoked', 20_000)).endReason).toBe('expired');
  expect((await waitForGrant(carol, asDave.body.id, 'revoked', 20_000)).endReason).toBe('expired');
}, 90_000);

it.concurrent('group: a new login has the group during the grant, an open session is killed at the end, a second grant keeps it', async () => {
  debug();
  const erin = await addMember(server, 'erin@example.test', ['requester']);
  const first = await ask(erin, ['group:ops'], 10, 'erin');
  expect(first.status, JSON.stringify(first.body)).toBe(201);
  expect(first.body).toMatchObject({ state: 'active', username: 'erin' });
  const second = await ask(erin, ['group:ops'], 20);
  expect(second.status, JSON.stringify(second.body)).toBe(201);

  await waitUntil('erin is in ops', 15_000, async () => (await login('erin', ['id', '-nG'])).stdout.split(/\s+/).includes('ops'));
  const session = sshSpawn(sshd.port, 'erin', PASSWORDS.erin!, ['sleep', '600']);
  const sessionEnded = new Promise<number>((resolve) => session.once('exit', () => resolve(Date.now())));
  await waitUntil('the session runs', 10_000, async () => (await ns.exec(['pgrep', '-u', 'erin', '-f', '^sleep 600$'])).code === 0);

  const firstEnd = Date.parse(first.body.expiresAt);
  const endedAt = await sessionEnded;
  expect(endedAt).toBeGreaterThanOrEqual(firstEnd - 50);
  expect(endedAt).toBeLessThan(firstEnd + 6_000);
  await ended(first.body.id, 10_000);
  // The second grant still holds the group: the first one's end left it.
  expect((await login('erin', ['id', '-nG'])).stdout.split(/\s+/)).toContain('ops');
  expect(Date.now()).toBeLessThan(Date.parse(second.body.expiresAt));

  expect((await ended(second.body.id, 20_000)).verified).toMatchObject({ groupsRemoved: true });
  const after = await login('erin', ['id', '-nG']);
  expect(after.code).toBe(0);
  expect(after.stdout.split(/\s+/)).not.toContain('ops');
  expect((await waitForGrant(erin, second.body.id, 'revoked', 20_000)).endReason).toBe('expired');
});

it.concurrent('refuses root, system accounts, users the host does not have and role entitlements, with the reason', async () => {
  debug();
  const rita = await addMember(server, 'rita@example.test', ['requester']);
  const rootAsk = await ask(rita, ['sudo:root'], 60, 'root');
  expect(rootAsk.status).toBe(400);
  expect(rootAsk.body.error.message).toMatch(/"root" is never managed/);
  const daemon = await ask(rita, ['sudo:root'], 60, 'daemon');
  expect(daemon.status).toBe(400);
  expect(daemon.body.error.message).toMatch(/system or service account/);
  const role = await ask(rita, ['administrators'], 60, 'rita');
  expect(role.status).toBe(400);
  expect(role.body.error.message).toMatch(/administrators is a role for new local accounts.*sudo:<rule> or group:<name>/);

  // Only the host knows these: the agent refuses, and the request fails with its reason.
  const refused: string[] = [];
  const cases: [string, string, RegExp][] = [
    ['sam@example.test', 'svcbot', /user svcbot is a system account \(uid \d+\)/],
    ['gus@example.test', 'ghost', /user ghost does not exist on this host/],
  ];
  for (const [email, user, why] of cases) {
    const person = await addMember(server, email, ['requester']);
    const r = await ask(person, ['sudo:root', 'group:ops'], 60, user);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.state, user).not.toBe('active');
    expect(r.body.lastError, user).toMatch(why);
    expect(r.body.lastError).toMatch(/the agent on web-01.example.test refused the grant/);
    const done = await waitForGrant(person, r.body.id, 'revoked', 20_000);
    expect(done.endReason).toMatch(/^activation failed: .*refused the grant/);
    refused.push(r.body.id as string);
  }
  const dropIns = (await ns.exec(['ls', '-A', '/etc/sudoers.d'])).stdout;
  for (const id of refused) expect(dropIns).not.toContain(id);
  expect((await ns.exec(['id', '-nG', 'svcbot'])).stdout).not.toMatch(/\bops\b/);
});
