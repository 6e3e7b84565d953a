import { describe, expect, it } from 'vitest';
import { renderSudoRule, sudoTime } from './host/linux-sudoers.js';
import { accountNameProblem, sudoCommandProblem } from '../agent-wire/names.js';
import { activationRefusalId, isActivationRefusal, JournalEntrySchema, parseGrantSpec, type JournalEntry } from '../agent-wire/protocol.js';

const base = { grantId: 'g-1', startAt: '2026-01-01T10:00:00Z', endAt: '2026-01-01T11:00:00Z' };

describe('names', () => {
  it.each([
    ['alice', null],
    ['_svc-1', null],
    ['a'.repeat(32), null],
    ['a'.repeat(33), /longer than 32/],
    ['../x', /path/],
    ['a/b', /path/],
    ['-x', /starts with "-"/],
    ['a b', /whitespace/],
    ['Alice', /must match/],
    ['root', /never managed/],
    ['', /empty/],
  ])('%j', (name, problem) => {
    const p = accountNameProblem(name);
    if (problem === null) expect(p).toBeNull();
    else expect(p).toMatch(problem);
  });

  it.each([
    ['ALL', null],
    ['/usr/bin/systemctl restart nginx', null],
    ['sha256:0a1B+/= /usr/bin/true', null],
    ['/bin/ls, ALL', /not allowed/],
    ['/bin/ls : ALL = ALL', /not allowed/],
    ['/bin/echo \\', /not allowed/],
    ['/bin/echo # comment', /not allowed/],
    ['/bin/id\nALL ALL=(ALL) ALL', /control character/],
    ['bin/id', /absolute path/],
    ['sha256:a,b /usr/bin/true', /absolute path/],
  ])('sudo command %j', (cmd, problem) => {
    const p = sudoCommandProblem(cmd);
    if (problem === null) expect(p).toBeNull();
    else expect(p).toMatch(problem);
  });
});

describe('parseGrantSpec', () => {
  it('applies the defaults (Trigger-it: enabled 3 minutes early)', () => {
    const r = parseGrantSpec({ ...base, kind: 'local-account' });
    expect(r).toMatchObject({ ok: true, grant: { enableLeadSeconds: 180, endAction: 'disable', role: 'users', endSessions: true, groups: [] } });
  });

  it('rejects one grant with its id and every reason', () => {
    const r = parseGrantSpec({ ...base, kind: 'sudo-elevation', endAt: '2026-01-01T09:00:00Z', passwordDelivery: { channel: 'email', to: 'a@b.c' } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.grantId).toBe('g-1');
    expect(r.error).toMatch(/endAt must be after startAt/);
    expect(r.error).toMatch(/needs the existing user's name/);
    expect(r.error).toMatch(/needs a sudo rule/);
    expect(r.error).toMatch(/only local-account grants have a password/);
  });

  it('does not echo a hostile grant id', () => {
    const r = parseGrantSpec({ ...base, grantId: '../../etc/x', kind: 'local-account' });
    expect(r).toMatchObject({ ok: false, grantId: null });
  });
});

describe('sudoers rendering', () => {
  it('writes one rule with sudo-enforced NOTBEFORE/NOTAFTER', () => {
    const text = renderSudoRule('g-1', {
      username: 'alice',
      rule: { runAs: ['postgres', 'www-data'], commands: ['/usr/bin/psql', '/usr/bin/id -u'], noPassword: true },
      notBefore: new Date('2026-01-01T10:00:00Z'),
      notAfter: new Date('2026-01-01T11:00:00.500Z'),
    });
    expect(text.split('\n')[1]).toBe(
      'alice ALL=(postgres, www-data) NOTBEFORE=20260101100000Z NOTAFTER=20260101110000Z NOPASSWD: /usr/bin/psql, /usr/bin/id -u',
    );
    expect(sudoTime(new Date('2026-12-31T23:59:59.999Z'))).toBe('20261231235959Z');
  });

  it('re-screens what it renders', () => {
    const rule = { runAs: ['root'], commands: ['/bin/ls, ALL'], noPassword: true };
    expect(() => renderSudoRule('g-1', { username: 'alice', rule, notBefore: new Date(0), notAfter: new Date(1) })).toThrow(/not allowed/);
    expect(() => renderSudoRule('g.1', { username: 'alice', rule: { ...rule, commands: ['ALL'] }, notBefore: new Date(0), notAfter: new Date(1) })).toThrow(/grant id/);
  });
});

describe('journal codes', () => {
  const entry = (e: Partial<JournalEntry>): JournalEntry => ({ id: 'g-1:error:3', at: base.startAt, grantId: 'g-1', event: 'error', message: 'x', ...e });

  it('an activation refusal is told by its code, whatever the message says', () => {
    expect(isActivationRefusal(entry({ code: 'activation_refused', message: 'reworded entirely' }))).toBe(true);
    expect(isActivationRefusal(entry({ code: 'step_failed', message: 'activation refused, ending the grant' }))).toBe(false);
  });

  it('an agent that sends no code is read by the stable id of its activation refusal, never by its words', () => {
    expect(isActivationRefusal(entry({ id: activationRefusalId('g-1') }))).toBe(true);
    expect(isActivationRefusal(entry({ message: 'activation refused, ending the grant: …' }))).toBe(false);
  });

  it('a server accepts entries with and without a code, and refuses an unknown one', () => {
    expect(JournalEntrySchema.safeParse(entry({})).success).toBe(true);
    expect(JournalEntrySchema.safeParse(entry({ code: 'grant_refused' })).success).toBe(true);
    expect(JournalEntrySchema.safeParse({ ...entry({}), code: 'whatever' }).success).toBe(false);
  });
});
