/**
 * CPU time read from /proc (Linux, 10 ms ticks): a process, this process's reaped children (a
 * pgbench run), and a PostgreSQL cluster (its postmaster, live backends and those it reaped). The
 * benchmark divides them by the work done, so a figure can say where a lifecycle's time goes.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

const TICK_MS = 10; // 1000 / USER_HZ (100)

/** The fields after the command name (which may hold spaces): state is [0], ppid [1], utime [11]… */
async function statFields(pid: number | 'self'): Promise<string[] | null> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null; // ended meanwhile
  }
}

/** A process's CPU so far, user and kernel. */
export async function cpuSplitMs(pid: number): Promise<{ userMs: number; kernelMs: number }> {
  const f = await statFields(pid);
  if (!f) throw new Error(`process ${pid} is gone`);
  return { userMs: Number(f[11]) * TICK_MS, kernelMs: Number(f[12]) * TICK_MS };
}

/** User + system CPU time of a process so far. */
export async function cpuTimeMs(pid: number): Promise<number> {
  const { userMs, kernelMs } = await cpuSplitMs(pid);
  return userMs + kernelMs;
}

/** CPU of this process's children that have ended (cutime + cstime): a command run to its end. */
export async function reapedChildrenCpuMs(): Promise<number> {
  const f = await statFields('self');
  return f ? (Number(f[13]) + Number(f[14])) * TICK_MS : 0;
}

/** The postmaster of a cluster started by the test harness, from its data directory. */
export async function postmasterPid(cluster: { logFile: string }): Promise<number> {
  const text = await readFile(path.join(path.dirname(cluster.logFile), 'data', 'postmaster.pid'), 'utf8');
  return Number(text.split('\n')[0]);
}

/** CPU time of the postmaster, its live children and the children it has reaped. */
export async function clusterCpuMs(postmaster: number): Promise<number> {
  let ticks = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const f = await statFields(pid);
    if (!f) continue;
    if (pid === postmaster) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    else if (Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * TICK_MS;
}
