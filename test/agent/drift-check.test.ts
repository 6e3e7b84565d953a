/**
 * The agent's drift check under a fake clock and an in-memory host: what was changed by hand is
 * found as data, put back, and journalled once; what the agent did not make is reported, never
 * touched; users the enforcer is working on are left alone. (The same on a real host, through the
 * server's audit log: test/e2e/agent-drift.test.ts.)
 */
import { rm } from 'node:fs/promises';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { fakeClock } from '../../src/core/clock.js';
import { Enforcer } from '../../src/agent/enforcer.js';
import { Journal } from '../../src/agent/journal.js';
import type { DesiredState, GrantSpecInput } from '../../src/agent-wire/protocol.js';
import { ScheduleStore } from '../../src/agent/schedule.js';
import { FakeHost } from './fake-host.js';
import { makeStateDir, readJournal } from './support.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const MIN = 60_000;
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup() {
  const host = new FakeHost();
  const clock = fakeClock(new Date(T0));
  const stateDir = await makeStateDir();
  dirs.push(stateDir);
  const store = new ScheduleStore(stateDir);
  await store.load();
  let n = 0;
  const enforcer = new Enforcer({
    host,
    store,
    clock,
    journal: new Journal(stateDir, clock, pino({ level: 'silent' })),
    log: pino({ level: 'silent' }),
    delivery: null,
    hostName: 'endpoint',
    newPassword: () => `Generated-Pw-${++n}`,
  });
  const drifts = async () => (await readJournal(stateDir)).filter((e) => e.event === 'drift');
  return { host, store, clock, enforcer, drifts };
}

const desired = (version: number, grants: GrantSpecInput[]): DesiredState => ({ schemaVersion: 1, version, issuedAt: new Date(T0).toISOString(), grants });
const window = { startAt: new Date(T0).toISOString(), endAt: new Date(T0 + 30 * MIN).toISOString() };

it('an existing user: sudo added during the grant is removed, the granted group kept; the group re-added after the end is removed', async () => {
  const { host, clock, enforcer, drifts } = await setup();
  host.groups.set('ops', new Set());
  host.addUser('erin');
  await enforcer.applyDesiredState(desired(1, [{ grantId: 'm1', kind: 'group-membership', username: 'erin', groups: ['ops'], ...window }]));
  expect(host.groups.get('ops')!.has('erin')).toBe(true);

  host.groups.get('sudo')!.add('erin');
  await enforcer.checkDrift();
  expect(host.groups.get('sudo')!.has('erin')).toBe(false);
  expect(host.groups.get('ops')!.has('erin')).toBe(true);
  expect(await drifts()).toEqual([
    expect.objectContaining({ grantId: 'm1', code: 'drift_repaired', findings: [{ kind: 'entitlement', subject: 'group:sudo', expected: 'absent', actual: 'present' }] }),
  ]);

  clock.set(new Date(T0 + 30 * MIN));
  await enforcer.converge();
  await enforcer.applyDesiredState(desired(2, [])); // the server took it out: still watched
  host.groups.get('ops')!.add('erin');
  host.processes.set('erin', 1);
  await enforcer.checkDrift();
  expect(host.groups.get('ops')!.has('erin')).toBe(false);
  expect(host.processes.has('erin')).toBe(false);
  expect((await drifts()).at(-1)).toMatchObject({ code: 'drift_repaired', findings: [{ kind: 'entitlement', subject: 'group:ops' }] });

  // A clean host: nothing more is written.
  await enforcer.checkDrift();
  expect(await drifts()).toHaveLength(2);
});

it('a grant’s own account unlocked and put in sudo after its end is locked, expired and stripped again', async () => {
  const { host, clock, enforcer, store, drifts } = await setup();
  await enforcer.applyDesiredState(desired(1, [{ grantId: 'a1', kind: 'local-account', role: 'users', endAction: 'disable', ...window }]));
  const u = store.get('a1')!.username!;
  clock.set(new Date(T0 + 30 * MIN));
  await enforcer.converge();
  expect(store.get('a1')!.status).toBe('ended');

  const acct = host.accounts.get(u)!;
  Object.assign(acct, { locked: false, password: 'rogue', expiresAt: null });
  host.groups.get('sudo')!.add(u);
  await enforcer.checkDrift();
  expect(host.accounts.get(u)).toMatchObject({ locked: true });
  expect(host.accounts.get(u)!.password).not.toBe('rogue');
  expect(host.accounts.get(u)!.expiresAt!.getTime()).toBeLessThanOrEqual(T0);
  expect(host.groups.get('sudo')!.has(u)).toBe(false);
  const [entry] = await drifts();
  expect(entry).toMatchObject({ grantId: 'a1', code: 'drift_repaired' });
  expect(entry!.findings).toEqual(
    expect.arrayContaining([
      { kind: 'login', subject: u, expected: 'disabled', actual: 'enabled' },
      { kind: 'expiry', subject: u, expected: new Date(T0 + 30 * MIN).toISOString(), actual: null },
      { kind: 'entitlement', subject: 'group:sudo', expected: 'absent', actual: 'present' },
    ]),
  );
});

it('an account the agent did not make, under a deleted account’s name, is reported once and left alone', async () => {
  const { host, clock, enforcer, store, drifts } = await setup();
  await enforcer.applyDesiredState(desired(1, [{ grantId: 'a1', kind: 'local-account', username: 'tbann', role: 'users', endAction: 'delete', ...window }]));
  clock.set(new Date(T0 + 30 * MIN));
  await enforcer.converge();
  expect(store.get('a1')!.status).toBe('ended');
  expect(host.accounts.has('tbann')).toBe(false);

  host.addUser('tbann', ['sudo']);
  await enforcer.checkDrift();
  await enforcer.checkDrift();
  expect(await drifts()).toEqual([
    expect.objectContaining({ code: 'drift_unrepaired', findings: [{ kind: 'owner', subject: 'tbann', expected: 'timebox', actual: expect.stringMatching(/not made by Timebox/) }] }),
  ]);
  expect(host.accounts.get('tbann')).toMatchObject({ locked: false });
  expect(host.groups.get('sudo')!.has('tbann')).toBe(true);
});

it('forgets an ended grant after the watch window: a change made then is not its business', async () => {
  const { host, clock, enforcer, drifts } = await setup();
  host.addUser('erin');
  await enforcer.applyDesiredState(desired(1, [{ grantId: 'm1', kind: 'group-membership', username: 'erin', groups: ['users'], ...window }]));
  clock.set(new Date(T0 + 30 * MIN));
  await enforcer.converge();
  clock.set(new Date(T0 + 30 * MIN + 8 * 24 * 60 * MIN));
  await enforcer.applyDesiredState(desired(2, []));
  host.groups.get('users')!.add('erin');
  await enforcer.checkDrift();
  expect(host.groups.get('users')!.has('erin')).toBe(true);
  expect(await drifts()).toEqual([]);
});
