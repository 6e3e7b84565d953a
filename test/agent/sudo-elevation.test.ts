/**
 * Privilege elevation and impersonation through sudoers drop-ins, checked with the real sudo
 * inside the test namespace (run as the user with runuser): allowed only during the grant, only
 * the granted command, only as the granted run-as user; a root process started through sudo
 * during the grant is killed at the end.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { createHostNamespace, type HostNamespace } from '../harness/host-namespace.js';
import {
  hostUsers,
  iso,
  makeStateDir,
  readJournal,
  sleep,
  startReadyAgent,
  startHostWorker,
  waitForJournal,
  waitUntil,
  writeDesiredState,
  type AgentProcess,
  type WorkerHost,
} from './support.js';

let ns: HostNamespace;
let host: WorkerHost;
let stateDir: string;
let agent: AgentProcess | undefined;
const USERS = ['tbalice', 'tbcarol', 'tbdave', 'tbsvc'];

beforeAll(async () => {
  ns = await createHostNamespace();
  host = await startHostWorker(ns);
  stateDir = await makeStateDir();
  for (const u of USERS) expect((await ns.exec(['useradd', '--create-home', u])).code).toBe(0);
});

afterAll(async () => {
  await agent?.kill9();
  await host?.close();
  await ns?.destroy();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  const users = await hostUsers();
  for (const u of USERS) expect(users.has(u)).toBe(false);
});

/** `sudo -n ARGS` as `user`; exit 0 only when sudoers allows it without a password. */
const sudoAs = async (user: string, args: string[]) => ns.exec(['runuser', '-u', user, '--', 'sudo', '-n', ...args]);

it('allows exactly the granted sudo during the grant and nothing after', async () => {
  onTestFailed(async () => console.error(agent?.output(), JSON.stringify(await readJournal(stateDir), null, 1), (await ns.exec(['ps', '-eo', 'pid,ppid,ruid,euid,stat,cmd'])).stdout));
  const scheduleFile = path.join(stateDir, 'desired.json');
  agent = await startReadyAgent(ns, { stateDir, scheduleFile });
  const start = Date.now() + 4_000;
  const end = start + 6_000;
  const times = { startAt: iso(start), endAt: iso(end) };
  await writeDesiredState(scheduleFile, 2, [
    { ...times, grantId: 's-all', kind: 'sudo-elevation', username: 'tbalice', sudo: { commands: ['ALL'] } },
    { ...times, grantId: 's-one', kind: 'sudo-elevation', username: 'tbcarol', sudo: { commands: ['/usr/bin/id -u'] } },
    { ...times, grantId: 's-imp', kind: 'sudo-elevation', username: 'tbdave', sudo: { runAs: ['tbsvc'], commands: ['ALL'] } },
  ]);
  for (const id of ['s-all', 's-one', 's-imp']) {
    await waitForJournal(stateDir, `${id} accepted`, 10_000, (e) => e.grantId === id && e.event === 'accepted');
  }

  // Before the start: nothing.
  expect((await sudoAs('tbalice', ['true'])).code).not.toBe(0);
  expect(await host.sudoRuleInstalled('s-all')).toBe(false);
  expect(Date.now()).toBeLessThan(start);

  // During.
  await sleep(start - Date.now());
  await waitUntil('tbalice may sudo', 5_000, async () => (await sudoAs('tbalice', ['true'])).code === 0);
  // The three grants are activated one after the other: under load the others may lag alice's.
  for (const id of ['s-one', 's-imp']) {
    await waitForJournal(stateDir, `${id} activated`, 5_000, (e) => e.grantId === id && e.event === 'activated');
  }
  expect((await sudoAs('tbalice', ['/usr/bin/id', '-u'])).stdout.trim()).toBe('0');
  const carolId = await sudoAs('tbcarol', ['/usr/bin/id', '-u']);
  expect(carolId.code, carolId.stderr).toBe(0);
  expect(carolId.stdout.trim()).toBe('0');
  const carolOther = await sudoAs('tbcarol', ['/usr/bin/true']);
  expect(carolOther.code).not.toBe(0);
  expect(carolOther.stderr).toMatch(/password is required|not allowed/);
  const daveAsSvc = await sudoAs('tbdave', ['-u', 'tbsvc', '/usr/bin/id', '-un']);
  expect(daveAsSvc.code, daveAsSvc.stderr).toBe(0);
  expect(daveAsSvc.stdout.trim()).toBe('tbsvc');
  expect((await sudoAs('tbdave', ['-u', 'root', '/usr/bin/true'])).code).not.toBe(0);
  expect((await sudoAs('tbdave', ['/usr/bin/true'])).code).not.toBe(0); // default run-as is root

  // A root process started through sudo during the grant does not outlive it.
  const rootSleep = ns.spawn(['runuser', '-u', 'tbalice', '--', 'sudo', '-n', 'sleep', '600']);
  const rootSleepEnded = new Promise<number>((resolve) => rootSleep.once('exit', () => resolve(Date.now())));
  await waitUntil('the sudo child runs as root', 5_000, async () => (await ns.exec(['pgrep', '-u', 'root', '-f', '^sleep 600$'])).code === 0);
  const endedAt = await rootSleepEnded;
  expect(endedAt).toBeGreaterThanOrEqual(end - 50);
  expect(endedAt).toBeLessThan(end + 5_000);

  // After.
  for (const id of ['s-all', 's-one', 's-imp']) {
    await waitForJournal(stateDir, `${id} ended`, 10_000, (e) => e.grantId === id && e.event === 'ended');
  }
  expect((await sudoAs('tbalice', ['true'])).code).not.toBe(0);
  expect((await sudoAs('tbcarol', ['/usr/bin/id', '-u'])).code).not.toBe(0);
  expect((await sudoAs('tbdave', ['-u', 'tbsvc', '/usr/bin/true'])).code).not.toBe(0);
  expect((await ns.exec(['pgrep', '-f', '^sleep 600$'])).stdout.trim()).toBe('');
  const left = (await ns.exec(['ls', '-A', '/etc/sudoers.d'])).stdout.split('\n').filter((n) => n.includes('timebox'));
  expect(left).toEqual([]);
  const ended = (await readJournal(stateDir)).find((e) => e.grantId === 's-all' && e.event === 'ended')!;
  expect(ended.verified).toMatchObject({ sudoRuleRemoved: true, processes: 0 });
  // Existing users stay: a sudo grant never deletes or locks the account.
  expect(await host.getAccount('tbalice')).toMatchObject({ username: 'tbalice' });
});
