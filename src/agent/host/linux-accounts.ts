/**
 * Local accounts and groups through shadow-utils (useradd, usermod, userdel, chpasswd, gpasswd)
 * and getent (so NSS sees what the tools wrote). Every call checks the current state first, which
 * makes each step safe to repeat after a crash.
 */
import { readFile } from 'node:fs/promises';
import { invalid, permanent } from '../../core/errors.js';
import { assertAccountName, NameError } from '../../agent-wire/names.js';
import type { AccountInfo } from './host-operations.js';
import { run } from './exec.js';

const DAY_MS = 86_400_000;
/** Shadow treats expiry day 0 as "never"; day 1 (1970-01-02) is the canonical "already expired". */
const EXPIRED_DATE = '1970-01-02';
/** GECOS tags are ours: no ":" or "," (field separators) and nothing a finger client would mangle. */
const COMMENT_RE = /^[A-Za-z0-9 _-]{1,100}$/;

/** Re-throws name problems as `invalid` so callers classify them like other bad input. */
export function checkName(name: unknown, what = 'user name'): asserts name is string {
  try {
    assertAccountName(name, what);
  } catch (err) {
    if (err instanceof NameError) throw invalid(err.message);
    throw err;
  }
}

let uidMinCache: number | null = null;
/** UID_MIN from login.defs: accounts below it belong to the system and are never touched. */
export async function uidMin(): Promise<number> {
  if (uidMinCache !== null) return uidMinCache;
  let value = 1000;
  try {
    const m = /^\s*UID_MIN\s+(\d+)/m.exec(await readFile('/etc/login.defs', 'utf8'));
    if (m) value = Number(m[1]);
  } catch {
    // no login.defs: shadow's compiled-in default is 1000 as well
  }
  uidMinCache = value;
  return value;
}

async function getentLine(db: 'passwd' | 'shadow' | 'group', key: string): Promise<string[] | null> {
  // getent exits 2 for "no such key": not an error here.
  const r = await run('getent', [db, key], { okCodes: [0, 2] });
  const line = r.stdout.split('\n')[0];
  return r.code === 0 && line ? line.split(':') : null;
}

export async function supplementaryGroups(username: string): Promise<string[]> {
  const r = await run('getent', ['group']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4 && (f[3] ?? '').split(',').includes(username))
    .map((f) => f[0]!);
}

export async function getAccount(username: string): Promise<AccountInfo | null> {
  checkName(username);
  const pw = await getentLine('passwd', username);
  if (!pw) return null;
  const uid = Number(pw[2]);
  const sp = await getentLine('shadow', username);
  const hash = sp?.[1] ?? '';
  const expireDay = sp?.[7] ? Number(sp[7]) : NaN;
  return {
    username,
    uid,
    comment: pw[4] ?? '',
    system: uid < (await uidMin()),
    // An empty hash is no password at all (login without one): that is not locked.
    locked: hash.startsWith('!') || hash.startsWith('*'),
    expiresAt: Number.isFinite(expireDay) && expireDay > 0 ? new Date(expireDay * DAY_MS) : null,
    groups: await supplementaryGroups(username),
  };
}

export async function groupExists(group: string): Promise<boolean> {
  checkName(group, 'group name');
  return (await getentLine('group', group)) !== null;
}

export async function groupMembers(group: string): Promise<string[]> {
  checkName(group, 'group name');
  const g = await getentLine('group', group);
  if (!g) throw invalid(`group ${group} does not exist on this host`);
  return (g[3] ?? '').split(',').filter(Boolean);
}

/** The account, which must exist and be a regular (non-system) account. */
export async function regularAccount(username: string): Promise<AccountInfo> {
  const acct = await getAccount(username);
  if (!acct) throw invalid(`user ${username} does not exist on this host`);
  if (acct.system) throw permanent(`user ${username} is a system account (uid ${acct.uid}); the agent never changes those`);
  return acct;
}

export async function createDisabledAccount(username: string, comment: string, shell: string): Promise<void> {
  checkName(username);
  if (!COMMENT_RE.test(comment)) throw invalid(`account comment ${JSON.stringify(comment)} is not allowed`);
  const existing = await getAccount(username);
  if (existing) {
    if (existing.system) throw permanent(`user ${username} is an existing system account (uid ${existing.uid})`);
    if (existing.comment !== comment) throw permanent(`user ${username} already exists and was not created for this grant`);
    return; // created by an earlier run of the same step
  }
  // No password given: useradd stores "!" (locked); the expiry date in 1970 blocks PAM logins too.
  await run('useradd', ['--create-home', '--shell', shell, '--comment', comment, '--expiredate', EXPIRED_DATE, '--', username]);
}

export async function setPassword(username: string, password: string): Promise<void> {
  const before = await regularAccount(username);
  // chpasswd reads "user:password" lines: a ":" or a newline would change what it sets.
  if (!/^[^\s:]{8,256}$/.test(password)) throw invalid('password must be 8-256 characters without ":" or whitespace');
  await run('chpasswd', ['-c', 'SHA512'], { input: `${username}:${password}\n`, secrets: [password] });
  // chpasswd writes a fresh, unlocked hash: restore the lock (expiry still blocks in between).
  if (before.locked) await run('usermod', ['-L', '--', username]);
}

export async function lockAccount(username: string): Promise<void> {
  const acct = await regularAccount(username);
  if (!acct.locked) await run('usermod', ['-L', '--', username]);
}

export async function unlockAccount(username: string): Promise<void> {
  const acct = await regularAccount(username);
  if (!acct.locked) return;
  const sp = await getentLine('shadow', username);
  const hash = (sp?.[1] ?? '').replace(/^!+/, '');
  if (!hash || hash === '*') throw permanent(`user ${username} has no password to unlock; set one first`);
  await run('usermod', ['-U', '--', username]);
}

/** Shadow expiry is a day number: the account is usable until the end of `at`'s UTC day. */
export function expiryDate(at: Date | 'expired' | null): string {
  if (at === null) return '';
  if (at === 'expired') return EXPIRED_DATE;
  const day = Math.floor(at.getTime() / DAY_MS) + 1;
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

export async function setAccountExpiry(username: string, at: Date | 'expired' | null): Promise<void> {
  const acct = await regularAccount(username);
  const want = expiryDate(at);
  const have = acct.expiresAt ? acct.expiresAt.toISOString().slice(0, 10) : '';
  if (want !== have) await run('usermod', ['--expiredate', want, '--', username]);
}

export async function deleteAccount(username: string, requiredComment: string): Promise<void> {
  const acct = await getAccount(username);
  if (!acct) return;
  if (acct.system) throw permanent(`user ${username} is a system account (uid ${acct.uid}); refusing to delete it`);
  if (acct.comment !== requiredComment) {
    throw permanent(`user ${username} was not created by this grant (comment ${JSON.stringify(acct.comment)}); refusing to delete it`);
  }
  // Exit 12: the home directory could not be removed entirely; the account itself is gone.
  await run('userdel', ['--remove', '--', username], { okCodes: [0, 12] });
  if (await getAccount(username)) throw permanent(`userdel left user ${username} in place`);
}

export async function addToGroup(username: string, group: string): Promise<void> {
  checkName(group, 'group name');
  await regularAccount(username);
  if ((await groupMembers(group)).includes(username)) return;
  await run('gpasswd', ['-a', username, group]);
}

export async function removeFromGroup(username: string, group: string): Promise<void> {
  checkName(username);
  checkName(group, 'group name');
  if (!(await groupExists(group))) return;
  if (!(await groupMembers(group)).includes(username)) return;
  await run('gpasswd', ['-d', username, group]);
}
