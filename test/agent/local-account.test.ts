/**
 * Trigger-it's flow end to end, with the real tools inside the test namespace: the agent creates a
 * random account at once but disabled, emails its credentials (real SMTP, STARTTLS + AUTH), enables
 * it `enableLeadSeconds` before the start, and at the end kills the live SSH session and deletes
 * (or disables, rotating the password) the account. Logins go through a real sshd and PAM.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHostNamespace, type HostNamespace, type NsSshd } from '../harness/host-namespace.js';
import { credentialsFrom, startSmtpCatcher, type SmtpCatcher } from './smtp-catcher.js';
import {
  hostUsers,
  iso,
  makeStateDir,
  readJournal,
  sleep,
  sshRun,
  sshSpawn,
  startReadyAgent,
  startHostWorker,
  waitForJournal,
  waitUntil,
  writeAgentConfig,
  writeDesiredState,
  type AgentProcess,
  type WorkerHost,
} from './support.js';

let ns: HostNamespace;
let sshd: NsSshd;
let smtp: SmtpCatcher;
let host: WorkerHost;
let stateDir: string;
let agent: AgentProcess | undefined;
const seenUsers: string[] = [];

beforeAll(async () => {
  ns = await createHostNamespace();
  sshd = await ns.startSshd();
  smtp = await startSmtpCatcher();
  host = await startHostWorker(ns);
  stateDir = await makeStateDir();
  expect((await ns.exec(['groupadd', 'tbpower'])).code).toBe(0);
});

afterAll(async () => {
  await agent?.kill9();
  await host?.close();
  await smtp?.close();
  await ns?.destroy();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  const users = await hostUsers();
  for (const u of seenUsers) expect(users.has(u), `${u} leaked to the real host`).toBe(false);
});

const login = (user: string, password: string) => sshRun(sshd.port, user, password, ['id', '-nG']);

it('creates disabled, emails, enables at start − lead, kills the session and deletes or disables at the end', async () => {
  const scheduleFile = path.join(stateDir, 'desired.json');
  const configFile = await writeAgentConfig(stateDir, {
    powerUsersGroup: 'tbpower',
    hostName: 'endpoint-1',
    smtp: { host: '127.0.0.1', port: smtp.port, requireStartTls: true, auth: { user: smtp.user, pass: smtp.pass }, from: 'timebox@example.test', caPem: smtp.caPem },
  });
  agent = await startReadyAgent(ns, { stateDir, scheduleFile, configFile });
  // First the start is far away: creation, mail and a refused login take what they take on a busy
  // machine. Then the start is moved close (as an extension or a new schedule from the server
  // would), and the enable window is measured from there.
  const lead = 12;
  const farStart = Date.now() + 10 * 60_000;
  const grants = (startAt: number, endAt: number) => {
    const common = { kind: 'local-account', startAt: iso(startAt), endAt: iso(endAt), enableLeadSeconds: lead };
    return [
      { ...common, grantId: 'g-random', role: 'administrators', endAction: 'delete', passwordDelivery: { channel: 'email', to: 'ann@example.test' } },
      { ...common, grantId: 'g-named', username: 'tbbob', role: 'power-users', endAction: 'disable', passwordDelivery: { channel: 'email', to: 'bob@example.test' } },
    ];
  };
  await writeDesiredState(scheduleFile, 2, grants(farStart, farStart + 60_000));

  // Created at once, disabled; credentials emailed (random tb + 8 name for the first grant).
  const ann = credentialsFrom(await smtp.waitForMessage('ann@example.test', 30_000));
  const bob = credentialsFrom(await smtp.waitForMessage('bob@example.test', 30_000));
  seenUsers.push(ann.username, bob.username);
  expect(ann.username).toMatch(/^tb[a-z0-9]{8}$/);
  expect(bob.username).toBe('tbbob');
  const mailText = smtp.messages[0]!.text ?? '';
  expect(mailText).toContain(new Date(farStart + 60_000).toISOString().replace('T', ' ').slice(0, 19));
  expect(smtp.allSecure()).toBe(true);
  for (const u of [ann.username, bob.username]) {
    const acct = await host.getAccount(u);
    expect(acct).toMatchObject({ locked: true, system: false, groups: [] });
    expect(acct!.expiresAt!.getTime()).toBeLessThan(Date.now());
  }
  const early = await login(ann.username, ann.password);
  expect(early.code).not.toBe(0);
  expect(early.stdout).not.toContain(ann.username);

  // Enabled at start − lead: logins work, with the role's groups, before the start itself.
  const start = Date.now() + (lead + 2) * 1000;
  const enableAt = start - lead * 1000;
  const end = start + 10_000;
  await writeDesiredState(scheduleFile, 3, grants(start, end));
  await sleep(enableAt - Date.now());
  // The two accounts are enabled one after the other: each is waited for, both before the start.
  const loggedIn = (who: { username: string; password: string }) =>
    waitUntil(`${who.username} can log in`, Math.max(0, start - Date.now()), async () => {
      const r = await login(who.username, who.password);
      return r.code === 0 ? r : null;
    });
  const annIn = await loggedIn(ann);
  const bobIn = await loggedIn(bob);
  expect(Date.now()).toBeLessThan(start);
  expect(annIn.stdout.split(/\s+/)).toContain('sudo');
  expect(bobIn.stdout.split(/\s+/)).toContain('tbpower');

  // A session open during the grant is killed at the end.
  const session = sshSpawn(sshd.port, ann.username, ann.password, ['sleep', '600']);
  const sessionEnded = new Promise<number>((resolve) => session.once('exit', () => resolve(Date.now())));
  await waitUntil('the long session runs', 8_000, async () => (await host.userProcesses(ann.username)).length > 0);
  const endedAt = await sessionEnded;
  expect(endedAt).toBeGreaterThanOrEqual(end - 50);
  expect(endedAt).toBeLessThan(end + 5_000);

  for (const id of ['g-random', 'g-named']) {
    await waitForJournal(stateDir, `${id} ended`, 10_000, (e) => e.grantId === id && e.event === 'ended');
  }
  expect((await login(ann.username, ann.password)).code).not.toBe(0);
  expect((await login(bob.username, bob.password)).code).not.toBe(0);
  // delete: gone with its home; disable: kept, locked, expired, out of the group, no processes.
  expect(await host.getAccount(ann.username)).toBeNull();
  expect((await ns.exec(['test', '-e', `/home/${ann.username}`])).code).not.toBe(0);
  const bobAfter = await host.getAccount('tbbob');
  expect(bobAfter).toMatchObject({ locked: true, groups: [] });
  expect(bobAfter!.expiresAt!.getTime()).toBeLessThan(Date.now());
  expect(await host.userProcesses('tbbob')).toEqual([]);
  // The password was rotated: even unlocked by hand, the emailed one no longer works.
  await ns.exec(['usermod', '-U', '-e', '', 'tbbob']);
  expect((await login('tbbob', bob.password)).code).not.toBe(0);

  // No secret anywhere the agent writes.
  const journal = await readJournal(stateDir);
  const ended = journal.find((e) => e.grantId === 'g-random' && e.event === 'ended')!;
  expect(ended.verified).toMatchObject({ accountExists: false, groupsRemoved: true });
  const written = [agent.output(), JSON.stringify(journal), await readFile(path.join(stateDir, 'schedule.json'), 'utf8')].join('\n');
  for (const secret of [ann.password, bob.password, smtp.pass]) expect(written).not.toContain(secret);
  // A dozen SSH logins and agent steps, each slow on a busy machine; no step's timing rests on this.
}, 150_000);
