/**
 * The whole story on a real (throwaway) host: a Timebox server in this process, and the agent as
 * the `timebox agent` command inside a private mount and PID namespace with a real sshd, PAM and
 * sudo. The agent is enrolled with a one-time token, then only connects out. A requester asks for
 * access through the API, reveals the password and logs in over SSH; at the end the session is
 * killed and logins are refused. With the server stopped before the end, the agent still ends the
 * grant on time, and reports it when the server is back. An agent revoked by an admin is locked
 * out at once. Bad input never reaches the host.
 *
 * Grants are short (real time: the agent uses the host's clock) and every wait is bounded.
 */
import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { compiledEntry } from '../harness/compiled.js';
import { createHostNamespace, type HostNamespace, type NsSshd } from '../harness/host-namespace.js';
import {
  hostUsers,
  readJournal,
  repoRoot,
  sshRun,
  sshSpawn,
  startHostWorker,
  waitForJournal,
  waitUntil,
  writeAgentConfig,
  type WorkerHost,
} from '../agent/support.js';
import type { ApiClient } from '../support/http.js';
import { addMember, agentClientFrom, hostTargetWithPolicy, startRestartableServer, type RestartableServer } from './agent-support.js';

const T = '/api/v1/tenants/default';
let server: RestartableServer;
let ns: HostNamespace;
let sshd: NsSshd;
let host: WorkerHost;
let stateDir: string;
let spareDir: string;
let agent: { child: ChildProcess; output(): string; kill9(): Promise<void> } | undefined;
let agentId: string;
let targetId: string;
let ann: ApiClient;
let bob: ApiClient;
const secrets: string[] = [];
const USERS = ['tbann', 'tbbob'];

/** `timebox …` inside the namespace (as root, from the repository). */
function cli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; output(): string; done: Promise<number | null> } {
  const child = ns.spawn([process.execPath, compiledEntry('cli/main'), ...args], { cwd: repoRoot, env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const done = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => out, done };
}

beforeAll(async () => {
  server = await startRestartableServer();
  ns = await createHostNamespace();
  sshd = await ns.startSshd();
  host = await startHostWorker(ns);
  stateDir = await mkdtemp(path.join(tmpdir(), 'tb-agent-e2e-'));
  spareDir = await mkdtemp(path.join(tmpdir(), 'tb-agent-e2e-spare-'));
  ann = await addMember(server, 'ann@example.test', ['requester']);
  bob = await addMember(server, 'bob@example.test', ['requester']);
});

afterAll(async () => {
  await agent?.kill9();
  await host?.close();
  await ns?.destroy();
  await server?.destroy();
  for (const d of [stateDir, spareDir]) if (d) await rm(d, { recursive: true, force: true });
  const users = await hostUsers();
  for (const u of USERS) expect(users.has(u), `${u} leaked to the real host`).toBe(false);
});

const login = (user: string, password: string, command = ['id', '-nG']) => sshRun(sshd.port, user, password, command);
const grantOf = async (client: ApiClient, id: string) => (await client.get(`${T}/grants/${id}`)).body;
const waitForGrant = (client: ApiClient, id: string, state: string, timeoutMs: number) =>
  waitUntil(`grant ${id} ${state}`, timeoutMs, async () => {
    const g = await grantOf(client, id);
    return g.state === state ? g : null;
  });

it('enrols with the CLI and a one-time token (a second use is refused), then runs outbound only', async () => {
  onTestFailed(() => console.error(agent?.output()));
  const tok = await server.admin.post(`${T}/agents/enrolment-tokens`, { name: 'web-01', expiresInMinutes: 5 });
  expect(tok.status).toBe(201);
  const token = tok.body.token as string;
  // The token goes by environment (not argv, where ps would show it).
  const enrol = cli(['agent', 'enroll', '--server', server.url, '--state-dir', stateDir, '--hostname', 'web-01.example.test'], { TIMEBOX_ENROLMENT_TOKEN: token });
  expect(await enrol.done, enrol.output()).toBe(0);
  expect(enrol.output()).toMatch(/Enrolled as agent web-01 \(([0-9a-f-]{36})\) in tenant default/);
  agentId = /\(([0-9a-f-]{36})\)/.exec(enrol.output())![1]!;
  expect((await stat(path.join(stateDir, 'agent-key.pem'))).mode & 0o777).toBe(0o600);

  const twice = cli(['agent', 'enroll', '--server', server.url, '--state-dir', spareDir, '--token', token, '--hostname', 'web-02']);
  expect(await twice.done).toBe(3);
  expect(twice.output()).toMatch(/already used/);
  expect((await server.admin.get(`${T}/agents`)).body.items).toHaveLength(1);

  // Quick reconnects for the test (a real fleet backs off up to 30 s).
  await writeAgentConfig(stateDir, { backoffMaxMs: 2_000, heartbeatMs: 2_000 });
  const run = cli(['agent', 'run', '--state-dir', stateDir]);
  agent = {
    ...run,
    async kill9() {
      if (run.child.exitCode !== null || run.child.signalCode !== null) return;
      process.kill(await ns.innerPid(run.child), 'SIGKILL');
      await run.done;
    },
  };
  await waitUntil('the agent reported in', 30_000, async () => {
    if (run.child.exitCode !== null) throw new Error(`the agent exited: ${run.output()}`);
    const [a] = (await server.admin.get(`${T}/agents`)).body.items;
    return a.appliedVersion >= 1 && a.health !== null;
  });
  const target = await hostTargetWithPolicy(server.admin, agentId, { sudoRules: { root: { commands: ['ALL'] } } }, 3600);
  targetId = target.targetId;
  expect(target.check.ok).toBe(true);
});

it('refuses bad account names and entitlements with a clear 400; nothing reaches the host', async () => {
  const before = (await server.admin.get(`${T}/agents/${agentId}`)).body.desiredVersion;
  const ask = (accountName: string, entitlements = ['administrators']) =>
    ann.post(`${T}/requests`, { targetId, entitlements, durationSeconds: 60, reason: 'bad input test', accountName });
  const cases: [string, RegExp][] = [
    ['../x', /contains a path/],
    ['a b', /whitespace/],
    ['-x', /starts with "-"/],
    ['root', /"root" is never managed/],
    ['daemon', /system or service account/],
    ['a'.repeat(33), /longer than 32 characters/],
    ['Ann', /must match/],
  ];
  for (const [name, why] of cases) {
    const r = await ask(name);
    expect(r.status, name).toBe(400);
    expect(r.body.error.message, name).toMatch(why);
  }
  const twoRoles = await ask('tbann', ['administrators', 'users']);
  expect(twoRoles.status).toBe(400);
  expect(twoRoles.body.error.message).toMatch(/choose one of administrators, power-users or users/);
  const unknownRule = await ask('tbann', ['sudo:nope']);
  expect(unknownRule.status).toBe(400);
  expect(unknownRule.body.error.message).toMatch(/sudo:nope/);
  const badGroup = await ask('tbann', ['group:../etc']);
  expect(badGroup.status).toBe(400);

  expect((await server.admin.get(`${T}/agents/${agentId}`)).body.desiredVersion).toBe(before);
  expect((await server.admin.get(`${T}/grants`)).body.items).toEqual([]);
  expect((await server.admin.get(`${T}/jit-accounts`)).body.items).toEqual([]);
  expect((await readJournal(stateDir)).filter((e) => e.grantId)).toEqual([]);
});

it('administrators: SSH works during the grant, the open session is killed at the end, logins are refused after', async () => {
  onTestFailed(async () => console.error(agent?.output(), JSON.stringify(await readJournal(stateDir), null, 1)));
  const req = await ann.post(`${T}/requests`, { targetId, entitlements: ['administrators'], durationSeconds: 25, reason: 'INC-1 disk full on web-01', accountName: 'tbann' });
  expect(req.status, JSON.stringify(req.body)).toBe(201);
  expect(req.body).toMatchObject({ state: 'active', username: 'tbann' });
  const grantId = req.body.id as string;
  const end = Date.parse(req.body.expiresAt);
  const cred = await ann.post(`${T}/grants/${grantId}/credential`);
  expect(cred.status).toBe(200);
  const password = cred.body.password as string;
  secrets.push(password);

  const during = await waitUntil('tbann can log in', 15_000, async () => {
    const r = await login('tbann', password);
    return r.code === 0 ? r : null;
  });
  expect(during.stdout.split(/\s+/)).toContain('sudo');
  const session = sshSpawn(sshd.port, 'tbann', password, ['sleep', '600']);
  const sessionEnded = new Promise<number>((resolve) => session.once('exit', () => resolve(Date.now())));
  await waitUntil('the session runs', 10_000, async () => (await host.userProcesses('tbann')).length > 0);
  expect(Date.now()).toBeLessThan(end);

  const endedAt = await sessionEnded;
  expect(endedAt).toBeGreaterThanOrEqual(end - 50);
  expect(endedAt).toBeLessThan(end + 6_000);
  const ended = await waitForJournal(stateDir, 'tbann ended', 10_000, (e) => e.grantId === grantId && e.event === 'ended');
  expect(ended.verified).toMatchObject({ accountExists: false, groupsRemoved: true });
  expect((await login('tbann', password)).code).not.toBe(0);
  expect(await host.getAccount('tbann')).toBeNull();

  const revoked = await waitForGrant(ann, grantId, 'revoked', 20_000);
  expect(revoked.endReason).toBe('expired');
  expect(revoked.lastError).toBeNull();
});

it('an elevation ends on time with the server stopped, and is reported when the server is back', async () => {
  onTestFailed(async () => console.error(agent?.output(), JSON.stringify(await readJournal(stateDir), null, 1)));
  const req = await bob.post(`${T}/requests`, { targetId, entitlements: ['users', 'sudo:root'], durationSeconds: 30, reason: 'INC-2 restart nginx', accountName: 'tbbob' });
  expect(req.status, JSON.stringify(req.body)).toBe(201);
  const grantId = req.body.id as string;
  const end = Date.parse(req.body.expiresAt);
  const password = (await bob.post(`${T}/grants/${grantId}/credential`)).body.password as string;
  secrets.push(password);

  await waitUntil('tbbob can log in', 15_000, async () => (await login('tbbob', password)).code === 0);
  const sudo = await login('tbbob', password, ['sudo', '-n', 'id', '-u']);
  expect(sudo.code, sudo.stderr).toBe(0);
  expect(sudo.stdout.trim()).toBe('0');
  expect((await login('tbbob', password, ['sudo', '-n', 'true'])).code).toBe(0);
  await waitForJournal(stateDir, 'tbbob activated', 5_000, (e) => e.grantId === grantId && e.event === 'activated');

  // The server goes away well before the end; the agent has everything it needs.
  await server.stop();
  expect(Date.now()).toBeLessThan(end - 3_000);
  const rootShell = sshSpawn(sshd.port, 'tbbob', password, ['sudo', '-n', 'sleep', '600']);
  const rootShellEnded = new Promise<number>((resolve) => rootShell.once('exit', () => resolve(Date.now())));
  await waitUntil('the root process runs', 10_000, async () => (await ns.exec(['pgrep', '-u', 'root', '-f', '^sleep 600$'])).code === 0);
  const endedAt = await rootShellEnded;
  expect(endedAt).toBeGreaterThanOrEqual(end - 50);
  expect(endedAt).toBeLessThan(end + 6_000);
  const ended = await waitForJournal(stateDir, 'tbbob ended', 10_000, (e) => e.grantId === grantId && e.event === 'ended');
  expect(ended.verified).toMatchObject({ sudoRuleRemoved: true, accountExists: false });
  expect((await login('tbbob', password, ['sudo', '-n', 'true'])).code).not.toBe(0);
  expect((await ns.exec(['runuser', '-u', 'tbbob', '--', 'sudo', '-n', 'true'])).code).not.toBe(0);
  expect((await ns.exec(['ls', '-A', '/etc/sudoers.d'])).stdout).not.toMatch(/timebox/);
  expect(agent!.output()).toMatch(/desired state unavailable; still enforcing the local schedule/);

  // Back: the agent reconnects, uploads its journal, and the server's revocation completes.
  await server.restart();
  const revoked = await waitForGrant(bob, grantId, 'revoked', 40_000);
  expect(revoked.endReason).toBe('expired');
});

it('an agent revoked by an admin is refused at once; the host keeps what it was told to end', async () => {
  const del = await server.admin.call('DELETE', `${T}/agents/${agentId}`);
  expect(del.status).toBe(200);
  const client = await agentClientFrom(stateDir);
  const r = await client.call('GET', '/api/v1/agents/desired-state?since=-1', undefined, { timeoutMs: 10_000 });
  expect(r.status).toBe(401);
  expect(r.text).toMatch(/revoked/);
  await waitUntil('the agent was told', 15_000, async () => /this agent was revoked/.test(agent!.output()));
  expect(agent!.child.exitCode).toBeNull(); // still enforcing its local schedule

  // Secrets never reached the agent's logs, journal or schedule.
  const written = [agent!.output(), await readFile(path.join(stateDir, 'journal.jsonl'), 'utf8'), await readFile(path.join(stateDir, 'schedule.json'), 'utf8')].join('\n');
  for (const s of secrets) expect(written).not.toContain(s);
});
