/**
 * The enforcer's decisions under a fake clock and an in-memory host: when each step runs, what
 * the single timer aims at, revocation by omission, extensions, fail-closed activation, retries
 * that never report an unverified end, and restarts that finish what a crash left.
 */
import { rm } from 'node:fs/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeClock } from '../../src/core/clock.js';
import { invalid } from '../../src/core/errors.js';
import type { CredentialMessage } from '../../src/agent-wire/credential-message.js';
import { Enforcer } from '../../src/agent/enforcer.js';
import { Journal } from '../../src/agent/journal.js';
import type { DesiredState, GrantSpecInput } from '../../src/agent-wire/protocol.js';
import { ScheduleStore } from '../../src/agent/schedule.js';
import { boom, FakeHost } from './fake-host.js';
import { makeStateDir, readJournal } from './support.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const MIN = 60_000;
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup(host = new FakeHost(), dir?: string, clock = fakeClock(new Date(T0))) {
  const stateDir = dir ?? (await makeStateDir());
  if (!dir) dirs.push(stateDir);
  const store = new ScheduleStore(stateDir);
  await store.load();
  const mails: CredentialMessage[] = [];
  let n = 0;
  const enforcer = new Enforcer({
    host,
    store,
    clock,
    journal: new Journal(stateDir, clock, pino({ level: 'silent' })),
    log: pino({ level: 'silent' }),
    delivery: { deliver: async (m) => void mails.push(m) },
    hostName: 'endpoint',
    newPassword: () => `Generated-Pw-${++n}`,
  });
  const events = async () => (await readJournal(stateDir)).map((e) => `${e.grantId}:${e.event}`);
  return { host, store, clock, enforcer, mails, stateDir, events };
}

const desired = (version: number, grants: GrantSpecInput[]): DesiredState => ({
  schemaVersion: 1,
  version,
  issuedAt: new Date(T0).toISOString(),
  grants,
});

const account = (grantId: string, extra: Partial<GrantSpecInput> = {}): GrantSpecInput => ({
  grantId,
  kind: 'local-account',
  role: 'administrators',
  startAt: new Date(T0 + 10 * MIN).toISOString(),
  endAt: new Date(T0 + 70 * MIN).toISOString(),
  endAction: 'delete',
  passwordDelivery: { channel: 'email', to: 'ann@example.test' },
  ...extra,
});

describe('Enforcer', () => {
  it('creates the account disabled at once, enables it at start − lead, deletes it at the end', async () => {
    const { host, clock, enforcer, mails, store, events } = await setup();
    await enforcer.applyDesiredState(desired(1, [account('g1')]));
    const username = store.get('g1')!.username!;
    expect(username).toMatch(/^tb[a-z0-9]{8}$/);
    expect(host.accounts.get(username)).toMatchObject({ locked: true, password: 'Generated-Pw-1' });
    expect(mails).toEqual([expect.objectContaining({ username, password: 'Generated-Pw-1', to: 'ann@example.test' })]);
    expect(enforcer.nextWake()).toBe(T0 + 7 * MIN); // the single timer: start − 180 s

    clock.set(new Date(T0 + 7 * MIN));
    await enforcer.converge();
    expect(host.accounts.get(username)!.locked).toBe(false);
    expect(host.groups.get('sudo')!.has(username)).toBe(true);
    expect(host.accounts.get(username)!.expiresAt!.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(enforcer.nextWake()).toBe(T0 + 70 * MIN);

    host.processes.set(username, 2);
    clock.set(new Date(T0 + 70 * MIN));
    await enforcer.converge();
    expect(host.accounts.has(username)).toBe(false);
    expect(host.groups.get('sudo')!.has(username)).toBe(false);
    expect(host.processes.has(username)).toBe(false);
    expect(enforcer.nextWake()).toBeNull();
    expect(await events()).toEqual(['g1:accepted', 'g1:credentials-delivered', 'g1:provisioned', 'g1:activated', 'g1:ended']);
  });

  it('activates at once when provisioning ran past the activation time (the timer is not aimed at the end)', async () => {
    const { host, clock, enforcer, store } = await setup();
    host.onCall = (method) => {
      if (method === 'setPassword') clock.set(new Date(T0 + 8 * MIN)); // a slow step
    };
    await enforcer.applyDesiredState(desired(1, [account('g1')]));
    expect(store.get('g1')!.status).toBe('provisioned');
    expect(enforcer.nextWake()).toBe(T0 + 8 * MIN); // due now, not at the end
    await enforcer.converge();
    expect(store.get('g1')!.status).toBe('active');
  });

  it('enforces ends that passed while it was down on its first pass', async () => {
    const first = await setup();
    await first.enforcer.applyDesiredState(desired(1, [account('late', { startAt: new Date(T0 + 60 * MIN).toISOString(), endAt: new Date(T0 + 90 * MIN).toISOString() }), account('g2')]));
    first.clock.set(new Date(T0 + 7 * MIN));
    await first.enforcer.converge(); // g2 active
    // "Restart" two hours later with a fresh enforcer on the same state directory.
    const again = await setup(first.host, first.stateDir, fakeClock(new Date(T0 + 120 * MIN)));
    await again.enforcer.start();
    await again.enforcer.stop();
    expect(again.store.grants().map((g) => g.status)).toEqual(['ended', 'ended']);
    expect([...first.host.accounts.keys()]).toEqual(['daemon']);
  });

  it('revokes a grant a newer desired state no longer lists, and ignores older versions', async () => {
    const { host, clock, enforcer, store } = await setup();
    await enforcer.applyDesiredState(desired(5, [account('g1')]));
    clock.set(new Date(T0 + 8 * MIN));
    await enforcer.converge();
    await enforcer.applyDesiredState(desired(4, [])); // stale: ignored
    expect(store.get('g1')!.status).toBe('active');
    await enforcer.applyDesiredState(desired(6, []));
    expect(store.get('g1')!.status).toBe('ended');
    expect(host.accounts.size).toBe(1); // only daemon
    await enforcer.applyDesiredState(desired(7, []));
    expect(store.get('g1')!.status).toBe('ended'); // kept while the drift check watches it (7 days)
    clock.set(new Date(T0 + 8 * MIN + 7 * 24 * 60 * MIN));
    await enforcer.applyDesiredState(desired(8, []));
    expect(store.get('g1')).toBeUndefined(); // then a finished grant no longer listed is forgotten
  });

  it('ends a known grant the server now sends malformed, and never undoes an end under way', async () => {
    const { host, clock, enforcer, store, events } = await setup();
    const g = account('g1');
    await enforcer.applyDesiredState(desired(1, [g, account('g2')]));
    clock.set(new Date(T0 + 8 * MIN));
    await enforcer.converge();
    await enforcer.applyDesiredState(desired(2, [{ ...g, kind: 'nonsense' } as unknown as GrantSpecInput, account('g2')]));
    expect(store.get('g1')!.status).toBe('ended');
    host.failNext('terminateUserProcesses', boom(), 1);
    clock.set(new Date(T0 + 11 * MIN));
    await enforcer.applyDesiredState(desired(3, [account('g2', { endAt: new Date(T0 + 11 * MIN).toISOString() })]));
    expect(store.get('g2')!.status).toBe('ending'); // its end failed once and will be retried
    await enforcer.applyDesiredState(desired(4, [account('g2', { endAt: new Date(T0 + 600 * MIN).toISOString() })]));
    expect(store.get('g2')!.spec.endAt).toBe(new Date(T0 + 11 * MIN).toISOString());
    clock.set(new Date(Date.parse(store.get('g2')!.retryAt!)));
    await enforcer.converge();
    expect(store.get('g2')!.status).toBe('ended');
    expect(await events()).toContain('g1:rejected');
  });

  it('follows a new end time: the sudo rule and expiry move with it', async () => {
    const { host, clock, enforcer, store } = await setup();
    const g = account('g1', { sudo: { commands: ['ALL'] } });
    await enforcer.applyDesiredState(desired(1, [g]));
    clock.set(new Date(T0 + 8 * MIN));
    await enforcer.converge();
    const later = new Date(T0 + 3 * 24 * 60 * MIN).toISOString();
    await enforcer.applyDesiredState(desired(2, [{ ...g, endAt: later }]));
    expect(host.rules.get('g1')!.notAfter.toISOString()).toBe(later);
    expect(host.accounts.get(store.get('g1')!.username!)!.expiresAt!.toISOString()).toBe('2026-01-05T00:00:00.000Z');
    expect(enforcer.nextWake()).toBe(Date.parse(later));
  });

  it('applies nothing (and kills nothing) when a grant on an existing user ends before it started', async () => {
    const host = new FakeHost();
    host.addUser('carol');
    host.processes.set('carol', 3);
    const { clock, enforcer, events } = await setup(host);
    await enforcer.applyDesiredState(desired(1, [{ grantId: 's1', kind: 'sudo-elevation', username: 'carol', sudo: { commands: ['ALL'] }, startAt: new Date(T0 + 10 * MIN).toISOString(), endAt: new Date(T0 + 20 * MIN).toISOString() }]));
    clock.set(new Date(T0 + 30 * MIN));
    await enforcer.converge();
    expect(host.processes.get('carol')).toBe(3);
    expect(host.calls).not.toContain('installSudoRule');
    expect(await events()).toEqual(['s1:accepted', 's1:ended']);
  });

  it('keeps groups the user already had and removes only what it added', async () => {
    const host = new FakeHost();
    host.addUser('dave', ['users']);
    const { clock, enforcer } = await setup(host);
    await enforcer.applyDesiredState(desired(1, [{ grantId: 'm1', kind: 'group-membership', username: 'dave', groups: ['users', 'sudo'], startAt: new Date(T0).toISOString(), endAt: new Date(T0 + MIN).toISOString() }]));
    expect(host.groups.get('sudo')!.has('dave')).toBe(true);
    clock.set(new Date(T0 + MIN));
    await enforcer.converge();
    expect(host.groups.get('sudo')!.has('dave')).toBe(false);
    expect(host.groups.get('users')!.has('dave')).toBe(true);
  });

  it('fails closed: an activation the host refuses ends the grant at once', async () => {
    const host = new FakeHost();
    host.addUser('erin');
    const { enforcer, store, events } = await setup(host);
    host.failNext('installSudoRule', invalid('refused by visudo: syntax error'));
    await enforcer.applyDesiredState(desired(1, [{ grantId: 's2', kind: 'sudo-elevation', username: 'erin', groups: ['sudo'], sudo: { commands: ['ALL'] }, startAt: new Date(T0).toISOString(), endAt: new Date(T0 + 60 * MIN).toISOString() }]));
    expect(store.get('s2')!.status).toBe('ended');
    expect(host.groups.get('sudo')!.has('erin')).toBe(false);
    expect(await events()).toEqual(['s2:accepted', 's2:error', 's2:ended']);
  });

  it('retries a failing end with backoff and reports it ended only once verified', async () => {
    const { host, clock, enforcer, store, events } = await setup();
    await enforcer.applyDesiredState(desired(1, [account('g1', { startAt: new Date(T0).toISOString(), endAt: new Date(T0 + MIN).toISOString() })]));
    const username = store.get('g1')!.username!;
    host.processes.set(username, 1);
    host.failNext('terminateUserProcesses', boom(), 2);
    clock.set(new Date(T0 + MIN));
    await enforcer.converge();
    const g = store.get('g1')!;
    expect(g).toMatchObject({ status: 'ending', failures: 1 });
    expect(host.accounts.get(username)!.locked).toBe(true); // logins blocked before the failing step
    const retryAt = Date.parse(g.retryAt!);
    expect(retryAt - clock.now().getTime()).toBeGreaterThanOrEqual(500);
    expect(enforcer.nextWake()).toBe(retryAt);
    for (let i = 0; i < 2; i++) {
      clock.set(new Date(Date.parse(store.get('g1')!.retryAt!)));
      await enforcer.converge();
    }
    expect(store.get('g1')!.status).toBe('ended');
    expect((await events()).filter((e) => e === 'g1:ended')).toHaveLength(1);
  });

  it('never deletes an existing account named in a local-account grant', async () => {
    const host = new FakeHost();
    host.addUser('frank');
    const { enforcer, store, events } = await setup(host);
    await enforcer.applyDesiredState(desired(1, [account('g1', { username: 'frank' }), account('g2', { username: 'daemon' })]));
    expect(store.get('g1')!.status).toBe('rejected');
    expect(store.get('g2')!.status).toBe('rejected');
    expect(host.accounts.has('frank')).toBe(true);
    expect(await events()).toEqual(['g1:rejected', 'g2:rejected']);
  });
});
