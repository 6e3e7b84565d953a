/**
 * Hostile or broken input is refused with a clear reason and changes nothing: neither the host
 * operations themselves nor the agent (through a desired state) create a user or a sudoers file.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHostNamespace, type HostNamespace } from '../harness/host-namespace.js';
import {
  hostUsers,
  iso,
  makeStateDir,
  readJournal,
  startAgentProcess,
  startHostWorker,
  waitForJournal,
  writeDesiredState,
  type WorkerHost,
} from './support.js';

const BAD_NAMES: Array<[string, RegExp]> = [
  ['../etc', /contains a path/],
  ['tb user', /whitespace/],
  ['-oops', /starts with "-"/],
  ['root', /"root" is never managed/],
  ['x'.repeat(33), /longer than 32/],
];
const GARBAGE_RULE = { runAs: ['root'], commands: ['sha256:zz /usr/bin/true'], noPassword: true };

let ns: HostNamespace;
let host: WorkerHost;

beforeAll(async () => {
  ns = await createHostNamespace();
  host = await startHostWorker(ns);
  const r = await ns.exec(['useradd', '--create-home', 'tbexisting']);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(async () => {
  await host?.close();
  await ns?.destroy();
});

const timeboxSudoers = async () => {
  const r = await ns.exec(['ls', '-A', '/etc/sudoers.d']);
  return r.stdout.split('\n').filter((n) => n.includes('timebox'));
};

describe('host operations refuse bad names before running anything', () => {
  it.each(BAD_NAMES)('refuses to create %j', async (name, reason) => {
    await expect(host.createDisabledAccount(name, 'timebox grant bad')).rejects.toThrow(reason);
  });

  it('refuses to create, change or delete an existing system account (daemon)', async () => {
    await expect(host.createDisabledAccount('daemon', 'timebox grant bad')).rejects.toThrow(/system account/);
    await expect(host.deleteAccount('daemon', 'timebox grant bad')).rejects.toThrow(/system account .*refusing to delete/);
    await expect(host.lockAccount('daemon')).rejects.toThrow(/system account/);
    expect((await ns.exec(['getent', 'passwd', 'daemon'])).code).toBe(0);
  });

  it('refuses to delete an account the grant did not create', async () => {
    await expect(host.deleteAccount('tbexisting', 'timebox grant bad')).rejects.toThrow(/not created by this grant/);
    expect(await host.getAccount('tbexisting')).not.toBeNull();
  });

  it('refuses a sudoers rule that visudo rejects, leaving nothing in sudoers.d', async () => {
    const rule = { username: 'tbexisting', rule: GARBAGE_RULE, notBefore: new Date(), notAfter: new Date(Date.now() + 60_000) };
    await expect(host.validateSudoRule('g-bad', rule)).rejects.toThrow(/refused by visudo: .*syntax error/s);
    await expect(host.installSudoRule('g-bad', rule)).rejects.toThrow(/refused by visudo/);
    expect(await timeboxSudoers()).toEqual([]);
  });

  it('refuses sudo commands that would change the rule structure', async () => {
    for (const command of ['/usr/bin/id, ALL', '/usr/bin/id\nALL ALL=(ALL) ALL', 'usr/bin/id', '/usr/bin/id : ALL']) {
      const rule = { username: 'tbexisting', rule: { runAs: ['root'], commands: [command], noPassword: true }, notBefore: new Date(), notAfter: new Date(Date.now() + 60_000) };
      await expect(host.installSudoRule('g-inject', rule)).rejects.toThrow(/sudo command/);
    }
    expect(await timeboxSudoers()).toEqual([]);
  });
});

describe('the agent refuses bad grants and applies none of them', () => {
  it('journals each refusal with its reason; no user, rule or membership appears', async () => {
    const stateDir = await makeStateDir();
    const scheduleFile = path.join(stateDir, 'desired.json');
    const start = Date.now() + 1_000;
    const base = { startAt: iso(start), endAt: iso(start + 60_000), enableLeadSeconds: 0 };
    const grants: unknown[] = [
      ...BAD_NAMES.map(([name], i) => ({ ...base, grantId: `bad-name-${i}`, kind: 'local-account', username: name, role: 'administrators' })),
      { ...base, grantId: 'bad-system', kind: 'local-account', username: 'daemon', role: 'administrators' },
      { ...base, grantId: 'bad-sudo', kind: 'sudo-elevation', username: 'tbexisting', sudo: GARBAGE_RULE },
      { ...base, grantId: 'bad-inject', kind: 'sudo-elevation', username: 'tbexisting', sudo: { commands: ['/usr/bin/id, ALL'] } },
      { ...base, grantId: 'bad-group', kind: 'group-membership', username: 'tbexisting', groups: ['no-such-group'] },
      { ...base, grantId: 'bad-missing-user', kind: 'sudo-elevation', username: 'tbnobody', sudo: { commands: ['ALL'] } },
    ];
    await writeDesiredState(scheduleFile, 1, grants);
    const agent = startAgentProcess(ns, { stateDir, scheduleFile });
    try {
      const ids = grants.map((g) => (g as { grantId: string }).grantId);
      for (const id of ids) {
        await waitForJournal(stateDir, `${id} rejected`, 30_000, (e) => e.grantId === id && e.event === 'rejected');
      }
      const journal = await readJournal(stateDir);
      const reason = (id: string) => journal.find((e) => e.grantId === id && e.event === 'rejected')!.message;
      BAD_NAMES.forEach(([, re], i) => expect(reason(`bad-name-${i}`)).toMatch(re));
      expect(reason('bad-system')).toMatch(/daemon is an existing system account/);
      expect(reason('bad-sudo')).toMatch(/refused by visudo/);
      expect(reason('bad-inject')).toMatch(/sudo command .*not allowed/);
      expect(reason('bad-group')).toMatch(/group no-such-group does not exist/);
      expect(reason('bad-missing-user')).toMatch(/user tbnobody does not exist/);
      expect(journal.filter((e) => e.event !== 'rejected')).toEqual([]);
      expect(await timeboxSudoers()).toEqual([]);
      expect((await ns.exec(['getent', 'group', 'sudo'])).stdout.trim()).toMatch(/^sudo:x:27:$/);
      expect((await host.getAccount('tbexisting'))!.groups).toEqual([]);
    } finally {
      await agent.kill9();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('left the real host untouched', async () => {
    const users = await hostUsers();
    expect(users.has('tbexisting')).toBe(false);
    expect((await readdir('/etc/sudoers.d')).filter((n) => n.includes('timebox'))).toEqual([]);
  });
});
