/**
 * The embedded database belongs to one process. PGlite keeps its pages in this process's memory
 * and writes them back on its own schedule, so a second server opened on the same folder does not
 * fail: it runs beside the first and each overwrites the other's work, out of step with the audit
 * log. A lock file refuses the second start.
 *
 * The file holds the owner's process id and a token of its own, and the owner touches it every
 * few seconds. Another process's lock stands while it is fresh; it is taken over at once when its
 * process is gone (or its pid now belongs to a program that is not Node), and otherwise once it
 * has not been touched for STALE_MS: a process in another pid namespace (a second container on the
 * same volume) has a pid that means nothing here, and may even equal this one's.
 * Taking over happens under a guard file, and removes only the very file judged stale, so of
 * several processes racing for a stale lock exactly one ends up holding the folder.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SettingsError } from '../core/errors.js';

const LOCK_FILE = 'timebox.lock';
/** This process's: a second lock of the same folder in one process is its own (a restart in place). */
const PROCESS_TOKEN = randomUUID();
export const LOCK_REFRESH_MS = 5_000;
export const LOCK_STALE_MS = 30_000;
const GUARD_STALE_MS = 10_000;

/** Whether `pid`, in this pid namespace, is certainly not a Timebox server. */
async function certainlyGone(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return true;
  }
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return cmdline !== null && !/node|timebox/i.test(cmdline);
}

/** Takes the folder for this process; resolves with the release. `token`: for tests only. */
export async function lockDataDir(dir: string, opts: { token?: string; now?: () => number } = {}): Promise<() => Promise<void>> {
  const token = opts.token ?? PROCESS_TOKEN;
  const now = opts.now ?? Date.now;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, LOCK_FILE);
  const mine = `${process.pid} ${token}\n`;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await writeFile(file, mine, { flag: 'wx', mode: 0o600 });
      const refresh = setInterval(() => void utimes(file, new Date(), new Date()).catch(() => {}), LOCK_REFRESH_MS);
      refresh.unref();
      return async () => {
        clearInterval(refresh);
        // Only our own: a later owner's lock (ours was taken over as stale) stays.
        if ((await readFile(file, 'utf8').catch(() => '')) === mine) await unlink(file).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = await readFile(file, 'utf8').catch(() => null);
    if (held === null) continue; // removed meanwhile: try again
    if (held === mine) return async () => {}; // this process's own
    const pid = Number(/^(\d+)/.exec(held)?.[1] ?? NaN);
    const touched = (await stat(file).catch(() => null))?.mtimeMs ?? 0;
    const inOurNamespace = Number.isInteger(pid) && pid !== process.pid;
    const stale = (inOurNamespace && (await certainlyGone(pid))) || now() - touched > LOCK_STALE_MS;
    if (!stale) {
      throw new SettingsError(
        `the data folder ${dir} is in use by another Timebox process (pid ${Number.isInteger(pid) ? pid : '?'}): stop it first, or give this server a folder of its own (TIMEBOX_DATA_DIR); servers that share a store use PostgreSQL (DATABASE_URL). A lock whose server is gone is taken over ${LOCK_STALE_MS / 1000} s after it was last refreshed, or delete ${file}.`,
      );
    }
    // One taker at a time (a guard file of its own), and only the very file judged stale goes:
    // of several processes racing for a stale lock, one removes it and one creates the next.
    const guard = `${file}.takeover`;
    const guarded = await writeFile(guard, mine, { flag: 'wx', mode: 0o600 }).then(
      () => true,
      () => false,
    );
    if (!guarded) {
      // A taker that died mid-way leaves its guard: old ones are cleared.
      const g = await stat(guard).catch(() => null);
      if (g && now() - g.mtimeMs > GUARD_STALE_MS) await unlink(guard).catch(() => {});
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
      continue;
    }
    try {
      if ((await readFile(file, 'utf8').catch(() => null)) === held) await unlink(file).catch(() => {});
    } finally {
      await unlink(guard).catch(() => {});
    }
  }
  throw new SettingsError(`could not take the data folder ${dir}: ${file} keeps changing (another server starting at the same moment?)`);
}
