/**
 * Key files readable by their owner only (the master key, the audit signing key): read with a
 * refusal when anyone else could read or swap them, and created once, safely, by whichever
 * process starting together gets there first.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The file's text, or null when it does not exist. `what` names it in errors ("master key file"). */
export async function readOwnerOnlyFile(path: string, what: string): Promise<string | null> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!info.isFile()) throw new Error(`${what} ${path} is not a regular file`);
  // Windows has no POSIX modes; elsewhere anyone else able to read (or swap) the key defeats it.
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(3, '0');
    throw new Error(`${what} ${path} is accessible by group or other users (mode ${mode}); restrict it with: chmod 600 ${path}`);
  }
  return readFile(path, 'utf8');
}

/**
 * Writes `text` to `path` unless it exists: true when this call created it, false when another
 * process had (then read theirs: the first key written is the one that may already be in use).
 */
export async function createOwnerOnlyFile(path: string, text: string): Promise<boolean> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // O_EXCL + 0600 from the first byte: the key is never on disk with wider permissions.
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.chmod(0o600); // in case an unusual umask or ACL widened the mode
    await fh.sync(); // the key must survive a crash right after first start
  } finally {
    await fh.close();
  }
  try {
    // link(), unlike rename(), fails when the target exists: if two processes start together,
    // the second one uses the first one's key instead of replacing it after it was used.
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
  await chmod(path, 0o600);
  await syncDir(dir);
  return true;
}

/** Makes the new directory entry durable; not supported everywhere, so best effort. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, constants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some platforms/filesystems cannot fsync a directory; the file itself is already synced.
  }
}
