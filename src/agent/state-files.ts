/**
 * Durable files in the agent's state directory. The state decides who holds root-level access on
 * this host, so the directory must be private (owner-only) and every write is atomic and durable:
 * temp file (0600) + fsync + rename + fsync of the directory. A kill -9 or power cut leaves either
 * the old or the new file, never a torn one.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

function fsyncPath(p: string, flags: string): void {
  const fd = openSync(p, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates the directory 0700 if missing; refuses one that others can write (they could plant grants). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await stat(dir);
  if (!st.isDirectory()) throw new Error(`state dir ${dir} is not a directory`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new Error(`state dir ${dir} is owned by uid ${st.uid}, not by the agent's user`);
  }
  if (st.mode & 0o022) throw new Error(`state dir ${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`);
  if (st.mode & 0o077) await chmod(dir, 0o700);
}

/** Refuses an input file others could have written (the local desired-state file, the config). */
export async function assertNotWritableByOthers(file: string): Promise<void> {
  const st = await stat(file);
  if (st.mode & 0o022) {
    throw new Error(`${file} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); refusing to trust it`);
  }
}

export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  fsyncPath(path.dirname(file), 'r');
}

/** Appends one line and fsyncs: journal entries must survive the crash that follows them. */
export function appendLineDurable(file: string, line: string): void {
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, line.endsWith('\n') ? line : `${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function readJsonIfExists(file: string): Promise<unknown | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}
