/**
 * Server-chosen passwords (the owner reveals it in Timebox; the agent sets it): kept in memory
 * only, never in the schedule or the journal; never replaced by a random one; taken again from the
 * current desired state after a restart (the first long poll asks since=-1), even at an old version.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { fakeClock } from '../../src/core/clock.js';
import { transient } from '../../src/core/errors.js';
import { Enforcer } from '../../src/agent/enforcer.js';
import { Journal } from '../../src/agent/journal.js';
import { parseGrantSpec, type DesiredState, type GrantSpecInput } from '../../src/agent-wire/protocol.js';
import { ScheduleStore } from '../../src/agent/schedule.js';
import { FakeHost } from './fake-host.js';
import { makeStateDir, readJournal } from './support.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const MIN = 60_000;
const PASSWORD = 'Server-Chosen-pw.42';
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup(host: FakeHost, stateDir: string, clock = fakeClock(new Date(T0))) {
  const store = new ScheduleStore(stateDir);
  await store.load();
  const enforcer = new Enforcer({
    host,
    store,
    clock,
    journal: new Journal(stateDir, clock, pino({ level: 'silent' })),
    log: pino({ level: 'silent' }),
    delivery: null,
    hostName: 'endpoint',
    newPassword: () => 'Random-Agent-pw-1',
  });
  return { store, enforcer, clock };
}

const desired = (version: number, grants: GrantSpecInput[]): DesiredState => ({ schemaVersion: 1, version, issuedAt: new Date(T0).toISOString(), grants });
const grant = (extra: Partial<GrantSpecInput> = {}): GrantSpecInput => ({
  grantId: '0b6f4c1e-1111-4222-8333-444455556666',
  kind: 'local-account',
  username: 'ann_jit',
  role: 'administrators',
  startAt: new Date(T0).toISOString(),
  endAt: new Date(T0 + 30 * MIN).toISOString(),
  endAction: 'delete',
  serverPassword: true,
  ...extra,
});

it('sets the server-chosen password and never writes it down', async () => {
  const stateDir = await makeStateDir();
  dirs.push(stateDir);
  const host = new FakeHost();
  const { enforcer, store } = await setup(host, stateDir);
  await enforcer.applyDesiredState(desired(2, [grant({ password: PASSWORD })]));
  expect(store.get(grant().grantId)!.status).toBe('active');
  expect(host.accounts.get('ann_jit')).toMatchObject({ password: PASSWORD, locked: false });
  const onDisk = [await readFile(path.join(stateDir, 'schedule.json'), 'utf8'), await readFile(path.join(stateDir, 'journal.jsonl'), 'utf8')].join('\n');
  expect(onDisk).not.toContain(PASSWORD);
  expect((await readJournal(stateDir)).map((e) => e.event)).toEqual(['accepted', 'provisioned', 'activated']);
});

it('waits for the password instead of inventing one, and takes it from the current state after a restart', async () => {
  const stateDir = await makeStateDir();
  dirs.push(stateDir);
  const host = new FakeHost();
  host.failNext('createDisabledAccount', transient('useradd: cannot lock /etc/passwd'));
  const first = await setup(host, stateDir);
  await first.enforcer.applyDesiredState(desired(7, [grant({ password: PASSWORD })]));
  expect(first.store.get(grant().grantId)!.status).toBe('provisioning');
  // Crash: the password was only in the old process's memory. A minute later (past the retry):
  const again = await setup(host, stateDir, fakeClock(new Date(T0 + MIN)));
  await again.enforcer.converge();
  const g = again.store.get(grant().grantId)!;
  expect(g.status).toBe('provisioning');
  expect(g.lastError).toMatch(/waiting for the password from the server/);
  expect(host.accounts.get('ann_jit')?.password ?? null).toBeNull();
  // The first poll after start returns the current state (same version 7): its password is taken.
  await again.enforcer.applyDesiredState(desired(7, [grant({ password: PASSWORD })]));
  expect(again.store.get(grant().grantId)!.status).toBe('active');
  expect(host.accounts.get('ann_jit')!.password).toBe(PASSWORD);
  expect(await readFile(path.join(stateDir, 'schedule.json'), 'utf8')).not.toContain(PASSWORD);
});

it('refuses password fields where they make no sense', () => {
  const bad = (g: Partial<GrantSpecInput>) => parseGrantSpec(grant(g));
  expect(bad({ serverPassword: false, password: PASSWORD })).toMatchObject({ ok: false, error: expect.stringMatching(/only sent with serverPassword/) });
  expect(bad({ password: 'has:colon-inside' })).toMatchObject({ ok: false, error: expect.stringMatching(/printable ASCII/) });
  expect(bad({ passwordDelivery: { channel: 'email', to: 'a@example.test' } })).toMatchObject({ ok: false, error: expect.stringMatching(/not emailed/) });
  expect(bad({ kind: 'sudo-elevation', sudo: { commands: ['ALL'] } })).toMatchObject({ ok: false, error: expect.stringMatching(/only local-account grants have a password/) });
  // The error never repeats the password.
  const r = bad({ password: `${PASSWORD} x` });
  expect(r.ok).toBe(false);
  expect(JSON.stringify(r)).not.toContain(PASSWORD);
});
