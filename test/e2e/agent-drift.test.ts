/**
 * Live drift on a real (throwaway) host, made by hand as a rogue root would, found and undone by
 * the agent on its own (checking every second here), and audited by the server as data:
 * - `linux-agent`: during a grant, a group added to the JIT account by hand is taken away while
 *   the person's SSH login keeps working; after the end, the deleted account brought back from a
 *   backup (while the agent was down), given a password and put in sudo is ended again by the
 *   agent's check at start, and the rogue's SSH login is refused; a new account under the name,
 *   not made by Timebox, is reported and alerted, never touched;
 * - `linux-agent-users`: during a grant, the existing user put in sudo by hand is taken out while
 *   the granted group and their login stay; after the end, the group the grant gave, added back by
 *   hand, is removed again.
 * Every wait is for an event (an audit entry, a journal line), bounded; grants are short because
 * the agent uses the host's real clock.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { createHostNamespace, type HostNamespace, type NsSshd } from '../harness/host-namespace.js';
import { hostUsers, readJournal, sshRun, waitForJournal, waitUntil, type AgentProcess } from '../agent/support.js';
import type { Finding } from '../../src/core/findings.js';
import type { ApiClient } from '../support/http.js';
import { addMember, enrolledAgent, policyFor, startRestartableServer, type RestartableServer } from './agent-support.js';

const T = '/api/v1/tenants/default';
const ERIN_PASSWORD = 'Erin-pass-4711';
let server: RestartableServer;
let ns: HostNamespace;
let sshd: NsSshd;
let stateDir: string;
let agent: AgentProcess | undefined;
let run: () => Promise<AgentProcess>;
let accountsTarget: string;
let usersTarget: string;

interface DriftEvent {
  action: string;
  after: { username: string; findings: Finding[]; live: boolean; host: string };
}

const driftEvents = async () => (await server.admin.get(`${T}/audit?action=drift.*`)).body.items as DriftEvent[];
/** The agent's report of drift on `account`, as the server audited it. */
const repaired = (account: string, live: boolean, has: (f: Finding[]) => boolean) =>
  waitUntil(`drift on ${account} repaired (live: ${live})`, 30_000, async () =>
    (await driftEvents()).find((e) => e.action === 'drift.repaired' && e.after.username === account && e.after.live === live && has(e.after.findings)),
  );
const hasFinding = (want: Partial<Finding>) => (fs: Finding[]) => fs.some((f) => Object.entries(want).every(([k, v]) => (f as Record<string, unknown>)[k] === v));

async function root(argv: string[], input?: string): Promise<string> {
  const r = await ns.exec(argv, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}
const groupsOf = async (user: string) => (await root(['id', '-nG', user])).trim().split(/\s+/);
/**
 * Ended early by an administrator (drift, not the clock, is this file's subject: expiry on the
 * host is shown in agent-host), then ended on the host, and the server's revocation done (the
 * drift found after it is not a live grant's).
 */
async function ended(client: ApiClient, grantId: string): Promise<void> {
  const revoke = await server.admin.post(`${T}/grants/${grantId}/revoke`, { reason: 'INC-42 drift checked' });
  expect(revoke.status, JSON.stringify(revoke.body)).toBe(200);
  await waitForJournal(stateDir, `${grantId} ended`, 60_000, (e) => e.grantId === grantId && e.event === 'ended');
  await waitUntil(`grant ${grantId} revoked`, 30_000, async () => (await client.get(`${T}/grants/${grantId}`)).body.state === 'revoked');
}
const debug = () => onTestFailed(async () => console.error(agent?.output(), JSON.stringify(await readJournal(stateDir), null, 1)));

beforeAll(async () => {
  server = await startRestartableServer();
  ns = await createHostNamespace();
  sshd = await ns.startSshd();
  await root(['useradd', '-m', '-s', '/bin/bash', 'erin']);
  await root(['chpasswd'], `erin:${ERIN_PASSWORD}\n`);
  await root(['groupadd', 'ops']);
  stateDir = await mkdtemp(path.join(tmpdir(), 'tb-agent-drift-'));
  const enrolled = await enrolledAgent(server, ns, stateDir, 'web-01.example.test', { driftCheckSeconds: 1 });
  run = enrolled.run;
  agent = await run();
  for (const [kind, name] of [
    ['linux-agent', 'web-01'],
    ['linux-agent-users', 'web-01 users'],
  ] as const) {
    const added = await server.admin.post(`${T}/targets`, { name, kind, config: { agentId: enrolled.agentId, groups: ['ops'] } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    await policyFor(server.admin, added.body.target.id, name, 3600);
    if (kind === 'linux-agent') accountsTarget = added.body.target.id;
    else usersTarget = added.body.target.id;
  }
});

afterAll(async () => {
  await agent?.kill9();
  await ns?.destroy();
  await server?.destroy();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  const users = await hostUsers();
  for (const u of ['erin', 'tbann']) expect(users.has(u), `${u} leaked to the real host`).toBe(false);
});

it('linux-agent: a group added by hand during the grant is removed, login kept; the account restored and put in sudo after the end is ended again', async () => {
  debug();
  const ann = await addMember(server, 'ann@example.test', ['requester']);
  const req = await ann.post(`${T}/requests`, { targetId: accountsTarget, entitlements: ['administrators'], durationSeconds: 600, reason: 'INC-40 drift', accountName: 'tbann' });
  expect(req.status, JSON.stringify(req.body)).toBe(201);
  const grantId = req.body.id as string;
  const password = (await ann.post(`${T}/grants/${grantId}/credential`)).body.password as string;
  await waitUntil('tbann can log in', 15_000, async () => (await sshRun(sshd.port, 'tbann', password, ['true'])).code === 0);
  // What a backup taken now would hold.
  const passwdLine = await root(['getent', 'passwd', 'tbann']);
  const shadowLine = await root(['getent', 'shadow', 'tbann']);

  await root(['gpasswd', '-a', 'tbann', 'ops']);
  const live = await repaired('tbann', true, hasFinding({ kind: 'entitlement', subject: 'group:ops' }));
  expect(live.after.findings).toEqual([{ kind: 'entitlement', subject: 'group:ops', expected: 'absent', actual: 'present' }]);
  const during = await sshRun(sshd.port, 'tbann', password, ['id', '-nG']);
  expect(during.code).toBe(0);
  expect(during.stdout.split(/\s+/)).toContain('sudo');
  expect(during.stdout.split(/\s+/)).not.toContain('ops');

  await ended(ann, grantId);
  expect((await ns.exec(['getent', 'passwd', 'tbann'])).code).not.toBe(0);

  // With the agent down: the account back from the backup, a password of the rogue's, sudo.
  await agent!.kill9();
  await root(['tee', '-a', '/etc/shadow'], shadowLine);
  await root(['tee', '-a', '/etc/passwd'], passwdLine);
  await root(['chpasswd'], 'tbann:Rogue-pass-4711\n');
  await root(['usermod', '-U', 'tbann']);
  await root(['gpasswd', '-a', 'tbann', 'sudo']);
  expect((await sshRun(sshd.port, 'tbann', 'Rogue-pass-4711', ['true'])).code).toBe(0);

  agent = await run();
  const after = await repaired('tbann', false, hasFinding({ kind: 'login' }));
  expect(after.after.findings).toEqual(
    expect.arrayContaining([
      { kind: 'login', subject: 'tbann', expected: 'disabled', actual: 'enabled' },
      { kind: 'entitlement', subject: 'group:sudo', expected: 'absent', actual: 'present' },
    ]),
  );
  expect(after.after.host).toBe('web-01.example.test');
  expect((await sshRun(sshd.port, 'tbann', 'Rogue-pass-4711', ['true'])).code).not.toBe(0);
  expect((await sshRun(sshd.port, 'tbann', password, ['true'])).code).not.toBe(0);
  expect((await ns.exec(['getent', 'passwd', 'tbann'])).code).not.toBe(0);
  expect((await driftEvents()).filter((e) => e.action === 'drift.repair_failed')).toEqual([]);

  // A new account under the name, not made by Timebox: reported (owner) and alerted, never touched.
  await root(['useradd', '-m', '-s', '/bin/bash', 'tbann']);
  const failed = await waitUntil('drift on tbann not repaired', 30_000, async () =>
    (await driftEvents()).find((e) => e.action === 'drift.repair_failed' && e.after.username === 'tbann'),
  );
  expect(failed.after.findings).toEqual([{ kind: 'owner', subject: 'tbann', expected: 'timebox', actual: expect.stringMatching(/not made by Timebox/) }]);
  const alerts = (await server.admin.get(`${T}/alerts`)).body.items as Array<{ grantId: string; severity: string; resolvedAt: string | null }>;
  expect(alerts).toEqual([expect.objectContaining({ grantId, severity: 'critical', resolvedAt: null })]);
  expect((await ns.exec(['getent', 'passwd', 'tbann'])).code).toBe(0);
  await root(['userdel', '-r', 'tbann']);
});

it('linux-agent-users: sudo added by hand during the grant is removed, group and login kept; the group re-added after the end is removed', async () => {
  debug();
  const erin = await addMember(server, 'erin@example.test', ['requester']);
  const req = await erin.post(`${T}/requests`, { targetId: usersTarget, entitlements: ['group:ops'], durationSeconds: 600, reason: 'INC-41 drift', accountName: 'erin' });
  expect(req.status, JSON.stringify(req.body)).toBe(201);
  expect(req.body.state).toBe('active');
  const grantId = req.body.id as string;
  await waitUntil('erin is in ops', 15_000, async () => (await groupsOf('erin')).includes('ops'));

  await root(['gpasswd', '-a', 'erin', 'sudo']);
  const live = await repaired('erin', true, hasFinding({ subject: 'group:sudo' }));
  expect(live.after.findings).toEqual([{ kind: 'entitlement', subject: 'group:sudo', expected: 'absent', actual: 'present' }]);
  const during = await sshRun(sshd.port, 'erin', ERIN_PASSWORD, ['id', '-nG']);
  expect(during.code).toBe(0);
  expect(during.stdout.split(/\s+/)).toContain('ops');
  expect(during.stdout.split(/\s+/)).not.toContain('sudo');
  expect(Date.now()).toBeLessThan(Date.parse(req.body.expiresAt));

  await ended(erin, grantId);
  await root(['gpasswd', '-a', 'erin', 'ops']);
  const after = await repaired('erin', false, hasFinding({ subject: 'group:ops' }));
  expect(after.after.findings).toEqual([{ kind: 'entitlement', subject: 'group:ops', expected: 'absent', actual: 'present' }]);
  expect(await groupsOf('erin')).not.toContain('ops');
  const login = await sshRun(sshd.port, 'erin', ERIN_PASSWORD, ['id', '-nG']);
  expect(login.code).toBe(0);
  expect(login.stdout.split(/\s+/)).not.toContain('ops');
  expect((await driftEvents()).filter((e) => e.action === 'drift.repair_failed' && e.after.username === 'erin')).toEqual([]);
});
