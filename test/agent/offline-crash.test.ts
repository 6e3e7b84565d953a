/**
 * Expiry without a server and across crashes. The agent never has a server here: it ends grants
 * from its local schedule even after the desired-state file is gone; when it was down across an
 * end it enforces the overdue end on its first pass; and when it is killed with SIGKILL in the
 * middle of provisioning, activation or the end (right after a host change it had not recorded
 * yet), the next run converges to a clean host: no account, rule, membership or process left.
 */
import { readFile, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createHostNamespace, type HostNamespace } from '../harness/host-namespace.js';
import {
  hostUsers,
  iso,
  makeStateDir,
  readJournal,
  sleep,
  startAgentProcess,
  startHostWorker,
  startReadyAgent,
  waitForJournal,
  waitUntil,
  writeDesiredState,
  type AgentProcess,
  type WorkerHost,
} from './support.js';

let ns: HostNamespace;
let host: WorkerHost;
const agents: AgentProcess[] = [];
const stateDirs: string[] = [];
const users: string[] = [];

beforeAll(async () => {
  ns = await createHostNamespace();
  host = await startHostWorker(ns);
});

afterAll(async () => {
  for (const a of agents) await a.kill9();
  await host?.close();
  await ns?.destroy();
  for (const d of stateDirs) await rm(d, { recursive: true, force: true });
  const real = await hostUsers();
  for (const u of users) expect(real.has(u), `${u} leaked to the real host`).toBe(false);
});

/** A local admin account with a sudo rule: every kind of change the agent makes, in one grant. */
function adminGrant(grantId: string, username: string, start: number, end: number, endAction: 'delete' | 'disable') {
  users.push(username);
  return {
    grantId,
    kind: 'local-account',
    username,
    role: 'administrators',
    sudo: { commands: ['ALL'] },
    startAt: iso(start),
    endAt: iso(end),
    enableLeadSeconds: 1,
    endAction,
  };
}

async function newAgentDir(): Promise<{ stateDir: string; scheduleFile: string }> {
  const stateDir = await makeStateDir();
  stateDirs.push(stateDir);
  return { stateDir, scheduleFile: path.join(stateDir, 'desired.json') };
}

function track(a: AgentProcess, stateDir: string): AgentProcess {
  agents.push(a);
  onTestFailed(async () => console.error(a.output(), JSON.stringify(await readJournal(stateDir))));
  return a;
}

/**
 * A first agent, running before its grant is written: the grant's times are measured from a
 * running agent (`grants(now)`), not from a process still starting on a busy machine.
 */
async function runWith(dirs: { stateDir: string; scheduleFile: string }, grants: (now: number) => unknown[], crash?: string): Promise<AgentProcess> {
  const a = track(await startReadyAgent(ns, { ...dirs, ...(crash ? { crash } : {}) }), dirs.stateDir);
  await writeDesiredState(dirs.scheduleFile, 2, grants(Date.now()));
  return a;
}

const HOUR = 3_600_000;

/**
 * Moves the grant's end to `end` through a new desired-state version and waits until the agent
 * has it in its local schedule (what it enforces, with or without the file).
 */
async function moveEnd(dirs: { stateDir: string; scheduleFile: string }, grant: ReturnType<typeof adminGrant>, end: number): Promise<void> {
  await writeDesiredState(dirs.scheduleFile, 3, [{ ...grant, endAt: iso(end) }]);
  await waitUntil('the agent took the new end', 60_000, async () => {
    const text = await readFile(path.join(dirs.stateDir, 'schedule.json'), 'utf8').catch(() => '');
    return text.includes(iso(end));
  });
}

/** A later run on the same state (the desired state as the first run left it). */
function run(opts: { stateDir: string; scheduleFile?: string }): AgentProcess {
  return track(startAgentProcess(ns, opts), opts.stateDir);
}

/** When the agent process began enforcing (its first log line), from its own clock. */
function startedAt(a: AgentProcess): number | null {
  for (const line of a.output().split('\n')) {
    if (!line.includes('agent starting')) continue;
    return (JSON.parse(line) as { time: number }).time;
  }
  return null;
}

const sudoMembers = async () => (await ns.exec(['getent', 'group', 'sudo'])).stdout.trim().split(':')[3]!.split(',');
const sudoAllowed = async (user: string) => (await ns.exec(['runuser', '-u', user, '--', 'sudo', '-n', 'true'])).code === 0;

/** Nothing of the grant is left on the host. */
async function expectClean(grantId: string, username: string, endAction: 'delete' | 'disable') {
  expect(await host.sudoRuleInstalled(grantId)).toBe(false);
  expect(await sudoMembers()).not.toContain(username);
  const acct = await host.getAccount(username);
  if (endAction === 'delete') {
    expect(acct).toBeNull();
  } else {
    expect(acct).toMatchObject({ locked: true, groups: [] });
    expect(acct!.expiresAt!.getTime()).toBeLessThan(Date.now());
    expect(await host.userProcesses(username)).toEqual([]);
  }
  const leftovers = (await ns.exec(['ls', '-A', '/etc/sudoers.d'])).stdout.split('\n').filter((n) => n.includes(grantId));
  expect(leftovers).toEqual([]);
}

// Each step here is a process on the host; on a busy machine they take seconds. Waits are bounded
// generously; what is asserted about time is that nothing ends early and ends come promptly.
describe('without any server', { timeout: 120_000 }, () => {
  it('ends the grant on time even after its only source disappeared', async () => {
    const dirs = await newAgentDir();
    const { stateDir, scheduleFile } = dirs;
    let grant = adminGrant('o-file', 'tboff', 0, 0, 'disable');
    await runWith(dirs, (now) => [(grant = adminGrant('o-file', 'tboff', now + 3_000, now + HOUR, 'disable'))]);
    await waitForJournal(stateDir, 'activated', 60_000, (e) => e.event === 'activated');
    expect(await sudoAllowed('tboff')).toBe(true);
    // Active, however long that took on this machine: now the end comes close.
    const end = Date.now() + 4_000;
    await moveEnd(dirs, grant, end);
    await unlink(scheduleFile); // no server, and now no file either
    const ended = await waitForJournal(stateDir, 'ended', end - Date.now() + 60_000, (e) => e.event === 'ended');
    expect(Date.parse(ended.at)).toBeGreaterThanOrEqual(end);
    // By the agent's own timer: done within seconds of the end (every step a host process).
    expect(Date.parse(ended.at)).toBeLessThan(end + 15_000);
    expect(await sudoAllowed('tboff')).toBe(false);
    await expectClean('o-file', 'tboff', 'disable');
  });

  it('enforces an end that passed while the agent was down at once on restart', async () => {
    const dirs = await newAgentDir();
    let grant = adminGrant('o-down', 'tbdown', 0, 0, 'delete');
    const first = await runWith(dirs, (now) => [(grant = adminGrant('o-down', 'tbdown', now + 3_000, now + HOUR, 'delete'))]);
    await waitForJournal(dirs.stateDir, 'activated', 60_000, (e) => e.event === 'activated');
    const session = ns.spawn(['runuser', '-u', 'tbdown', '--', 'sleep', '600']);
    await waitUntil('the session runs', 10_000, async () => (await host.userProcesses('tbdown')).length > 0);
    // The end comes close; the agent re-activates for it (sudo NOTAFTER moves), then dies before it.
    const end = Date.now() + 12_000;
    await moveEnd(dirs, grant, end);
    await waitForJournal(dirs.stateDir, 're-activated for the new end', 60_000, (e) => e.event === 'activated' && e.message.includes(iso(end)));
    expect(Date.now(), 'the agent must be killed before the end').toBeLessThan(end);
    await first.kill9();

    await sleep(end + 1_500 - Date.now());
    // Dead agent: the account and the rule are still there, but sudo's NOTAFTER already refuses.
    expect(await host.getAccount('tbdown')).not.toBeNull();
    expect(await host.sudoRuleInstalled('o-down')).toBe(true);
    expect(await sudoAllowed('tbdown')).toBe(false);

    const second = run(dirs);
    const ended = await waitForJournal(dirs.stateDir, 'ended', 60_000, (e) => e.event === 'ended');
    // At once on its first pass, measured from the restarted agent's own start (however long the
    // process took to start on a busy machine): no waiting for any timer or server.
    const began = await waitUntil('the restarted agent logged its start', 5_000, async () => startedAt(second));
    expect(Date.parse(ended.at) - began).toBeLessThan(15_000);
    await new Promise((resolve) => (session.exitCode !== null || session.signalCode !== null ? resolve(null) : session.once('exit', resolve)));
    await expectClean('o-down', 'tbdown', 'delete');
  });
});

describe('kill -9 mid-operation, then restart', { timeout: 150_000 }, () => {
  // method:n = SIGKILL right after the n-th call of that host operation returned.
  const cases: Array<[string, string, 'delete' | 'disable']> = [
    ['provisioning: account created, not yet recorded', 'createDisabledAccount:1', 'delete'],
    ['provisioning: password set, not yet recorded', 'setPassword:1', 'disable'],
    ['activation: added to sudo group, not yet recorded', 'addToGroup:1', 'delete'],
    ['activation: sudo rule installed, not yet recorded', 'installSudoRule:1', 'disable'],
    ['end: sudo rule removed', 'removeSudoRule:1', 'delete'],
    ['end: processes killed, password not rotated', 'terminateUserProcesses:1', 'delete'],
    ['end: password rotated, account not deleted', 'setPassword:2', 'delete'],
  ];

  it.each(cases)('%s (%s) converges to a clean host', async (label, crash, endAction) => {
    const n = users.length;
    const grantId = `c-${n}`;
    const username = `tbcrash${n}`;
    const dirs = await newAgentDir();
    let grant = adminGrant(grantId, username, 0, 0, endAction);
    // The end is far at first: provisioning and activation take what they take on a busy machine.
    const first = await runWith(dirs, (now) => [(grant = adminGrant(grantId, username, now + 3_000, now + HOUR, endAction))], crash);
    let end = 0;
    if (label.startsWith('end:')) {
      // A crash in the end: once active, the end comes close.
      await waitForJournal(dirs.stateDir, 'activated', 60_000, (e) => e.event === 'activated');
      end = Date.now() + 3_000;
      await moveEnd(dirs, grant, end);
    }
    const exit = await waitUntil('the crash', 60_000, async () => (first.child.exitCode !== null || first.child.signalCode !== null ? first.exited : null));
    expect(exit.signal ?? exit.code).toBe('SIGKILL');
    expect((await readJournal(dirs.stateDir)).some((e) => e.event === 'ended')).toBe(false);
    if (end === 0) {
      // A crash before the end: the end comes close for the restarted agent to enforce.
      end = Date.now() + 3_000;
      await writeDesiredState(dirs.scheduleFile, 3, [{ ...grant, endAt: iso(end) }]);
    }

    run(dirs);
    const ended = await waitForJournal(dirs.stateDir, 'ended', Math.max(0, end - Date.now()) + 60_000, (e) => e.event === 'ended');
    expect(Date.parse(ended.at)).toBeGreaterThanOrEqual(end);
    await expectClean(grantId, username, endAction);
  });
});
