/**
 * The embedded database belongs to one process. PGlite keeps its pages in this process's memory
 * and writes them back on its own schedule, so a second server opened on the same folder does not
 * fail: it runs beside the first and each overwrites the other's work, out of step with the audit
 * log. A lock file holding the owner's process id refuses the second start; one left by a process
 * that is gone (kill -9, a power cut) is taken over.
 */
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SettingsError } from '../core/errors.js';

const LOCK_FILE = 'timebox.lock';

/** Whether `pid` is a live process that could be a Timebox server (a reused pid is not). */
async function alive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // Where /proc tells the command (Linux): a process that is not Node's took a dead server's pid.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return cmdline === null || /node|timebox/i.test(cmdline);
}

/** Takes the folder for this process; resolves with the release. Same process: allowed (a restart in place). */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, LOCK_FILE);
  const mine = `${process.pid}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, mine, { flag: 'wx', mode: 0o600 });
      return async () => {
        // Only our own: a later owner's lock (ours was taken over as stale) stays.
        if ((await readFile(file, 'utf8').catch(() => '')) === mine) await unlink(file).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = (await readFile(file, 'utf8').catch(() => '')).trim();
    const pid = /^\d+$/.test(held) ? Number(held) : NaN;
    if (pid === process.pid) return async () => {};
    if (Number.isInteger(pid) && (await alive(pid))) {
      throw new SettingsError(
        `the data folder ${dir} is in use by another Timebox process (pid ${pid}): stop it first, or give this server a folder of its own (TIMEBOX_DATA_DIR); servers that share a store use PostgreSQL (DATABASE_URL). If no Timebox process runs, delete ${file}.`,
      );
    }
    // Left by a process that is gone.
    await unlink(file).catch(() => {});
  }
  throw new SettingsError(`could not take the data folder ${dir}: ${file} keeps changing (another server starting at the same moment?)`);
}
