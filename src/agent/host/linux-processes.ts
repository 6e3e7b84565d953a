/**
 * Ending a user's access means ending their processes: a running shell keeps its group
 * credentials, and a root shell from sudo survives the rule's removal. A process belongs to the
 * user when any of its uids is theirs or its audit login uid is (pam_loginuid keeps that across
 * sudo), and so does every descendant (sudo's root child of the user's sudo process).
 * Zombies are ignored: they run nothing and only their parent can reap them.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { transient } from '../../core/errors.js';
import { findTool, run } from './exec.js';
import { checkName, regularAccount } from './linux-accounts.js';

interface ProcInfo {
  pid: number;
  ppid: number;
  uids: number[];
  loginUid: number | null;
  zombie: boolean;
}

async function readProc(pid: number): Promise<ProcInfo | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
    const login = await readFile(`/proc/${pid}/loginuid`, 'utf8').catch(() => '');
    const loginUid = Number(login.trim());
    return {
      pid,
      ppid: Number(field('PPid')),
      uids: field('Uid').split(/\s+/).filter(Boolean).map(Number),
      // 4294967295 is "unset" (processes not started by a login).
      loginUid: Number.isFinite(loginUid) && loginUid !== 4294967295 && login.trim() !== '' ? loginUid : null,
      zombie: field('State').startsWith('Z'),
    };
  } catch {
    return null; // the process ended while we looked
  }
}

/** The pids of this process and its ancestors: never killed, whatever their credentials. */
async function ownLineage(): Promise<Set<number>> {
  const mine = new Set<number>([1]);
  let pid = process.pid;
  while (pid > 1 && !mine.has(pid)) {
    mine.add(pid);
    pid = (await readProc(pid))?.ppid ?? 1;
  }
  return mine;
}

async function processesOfUid(uid: number): Promise<Array<{ pid: number; ppid: number }>> {
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number);
  const procs = (await Promise.all(pids.map(readProc))).filter((p): p is ProcInfo => p !== null);
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const selected = new Set<number>();
  const visit = (pid: number) => {
    if (selected.has(pid)) return;
    selected.add(pid);
    for (const c of children.get(pid) ?? []) visit(c);
  };
  for (const p of procs) if (p.uids.includes(uid) || p.loginUid === uid) visit(p.pid);
  const spared = await ownLineage();
  const live = new Set(procs.filter((p) => !p.zombie).map((p) => p.pid));
  return procs
    .filter((p) => selected.has(p.pid) && live.has(p.pid) && !spared.has(p.pid))
    .map((p) => ({ pid: p.pid, ppid: p.ppid }))
    .sort((a, b) => a.pid - b.pid);
}

export async function userProcesses(username: string): Promise<number[]> {
  return (await processesOfUid((await regularAccount(username)).uid)).map((p) => p.pid);
}

/** logind is running when systemd booted the host (sd_booted: /run/systemd/system exists). */
const logindAvailable = () => existsSync('/run/systemd/system') && findTool('loginctl') !== null;

const signal = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
};

/**
 * Kills the whole tree found in one /proc snapshot, in one synchronous loop, parents and children
 * alike: killing a parent first (as `pkill -u` does) would orphan its children to init, and a root
 * child of sudo without a login uid could then no longer be traced to the user. Not SIGSTOP
 * first: su, runuser, sudo and nsenter stop themselves when their child stops (job control), which
 * would freeze processes outside the tree. Repeated until nothing is left, a bounded number of times.
 */
export async function terminateUserProcesses(username: string): Promise<void> {
  checkName(username);
  const { uid } = await regularAccount(username);
  if (logindAvailable()) {
    // Ends sessions by cgroup (sudo children included); "not logged in" is fine, the sweep follows.
    await run('loginctl', ['terminate-user', username]).catch(() => undefined);
  }
  for (let round = 0; round < 20; round++) {
    const tree = await processesOfUid(uid);
    if (tree.length === 0) return;
    for (const p of tree) signal(p.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 20 * (round + 1)));
  }
  const survivors = (await processesOfUid(uid)).map((p) => p.pid);
  if (survivors.length) throw transient(`processes of ${username} survived SIGKILL: ${survivors.join(', ')}`);
}
