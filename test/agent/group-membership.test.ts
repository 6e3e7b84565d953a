/**
 * Temporary group membership for an existing user: `id -nG` shows the group during the grant and
 * not after; a group the user already had is left alone; a process started during the grant (which
 * keeps the group in its credentials) is killed at the end.
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
  waitForJournal,
  waitUntil,
  writeDesiredState,
  type AgentProcess,
} from './support.js';

let ns: HostNamespace;
let stateDir: string;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  ns = await createHostNamespace();
  stateDir = await makeStateDir();
  for (const argv of [['groupadd', 'tbops'], ['groupadd', 'tbaudit'], ['useradd', '--create-home', '--groups', 'tbaudit', 'tbgina']]) {
    const r = await ns.exec(argv);
    expect(r.code, r.stderr).toBe(0);
  }
});

afterAll(async () => {
  await agent?.kill9();
  await ns?.destroy();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  expect((await hostUsers()).has('tbgina')).toBe(false);
});

const groupsOf = async (user: string) => (await ns.exec(['id', '-nG', user])).stdout.trim().split(/\s+/);

it('adds the group for the grant only and ends processes that hold it', async () => {
  onTestFailed(async () => console.error(agent?.output(), JSON.stringify(await readJournal(stateDir))));
  const scheduleFile = path.join(stateDir, 'desired.json');
  agent = await startReadyAgent(ns, { stateDir, scheduleFile });
  const start = Date.now() + 3_000;
  const end = start + 5_000;
  await writeDesiredState(scheduleFile, 2, [
    { grantId: 'm-ops', kind: 'group-membership', username: 'tbgina', groups: ['tbops', 'tbaudit'], startAt: iso(start), endAt: iso(end) },
  ]);
  await waitForJournal(stateDir, 'accepted', 10_000, (e) => e.event === 'accepted');
  expect(await groupsOf('tbgina')).not.toContain('tbops');

  await sleep(start - Date.now());
  await waitUntil('tbgina is in tbops', 5_000, async () => (await groupsOf('tbgina')).includes('tbops'));
  // A process started now carries tbops in its credentials for as long as it lives.
  const holder = ns.spawn(['runuser', '-u', 'tbgina', '--', 'sleep', '600']);
  const holderEnded = new Promise<number>((resolve) => holder.once('exit', () => resolve(Date.now())));
  await waitUntil('the holder runs', 5_000, async () => (await ns.exec(['pgrep', '-u', 'tbgina', '-f', '^sleep 600$'])).code === 0);

  const endedAt = await holderEnded;
  expect(endedAt).toBeGreaterThanOrEqual(end - 50);
  expect(endedAt).toBeLessThan(end + 5_000);
  const ended = await waitForJournal(stateDir, 'ended', 10_000, (e) => e.event === 'ended');
  expect(ended.verified).toMatchObject({ groupsRemoved: true, processes: 0 });
  const after = await groupsOf('tbgina');
  expect(after).not.toContain('tbops');
  expect(after).toContain('tbaudit'); // held before the grant: not the grant's to take away
  expect((await ns.exec(['getent', 'group', 'tbops'])).stdout.trim().split(':')[3]).toBe('');
});
