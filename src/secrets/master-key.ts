/**
 * Finds the master key that wraps every data key (see envelope.ts).
 *
 * 1. TIMEBOX_MASTER_KEY (64 hex characters or base64 of 32 bytes): for deployments that keep the
 *    key in a secret manager, away from the database backups.
 * 2. Otherwise <dataDir>/master.key, created on first start, readable by the owner only.
 *
 * Error messages never contain the key or any part of it.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const KEY_BYTES = 32;
const ENV_NAME = 'TIMEBOX_MASTER_KEY';
export const MASTER_KEY_FILE = 'master.key';

export interface LoadMasterKeyOptions {
  env: Record<string, string | undefined>;
  /** The embedded store's folder; the key file lives next to the database. */
  dataDir?: string;
}

export interface LoadedMasterKey {
  key: Buffer;
  source: 'env' | 'file';
  /** True when this call generated a new key file (first start). */
  created: boolean;
}

export async function loadMasterKey(opts: LoadMasterKeyOptions): Promise<LoadedMasterKey> {
  const fromEnv = opts.env[ENV_NAME];
  if (fromEnv !== undefined) {
    // Set but empty is almost always a broken deployment template; silently falling back to a
    // new key file would make every existing secret undecryptable later.
    if (fromEnv.trim() === '') throw new Error(`${ENV_NAME} is set but empty; ${HOW_TO_GENERATE}`);
    return { key: parseKey(fromEnv, ENV_NAME), source: 'env', created: false };
  }
  const dataDir = opts.dataDir;
  if (!dataDir) {
    throw new Error(`no master key: set ${ENV_NAME} (${HOW_TO_GENERATE}) or use a data directory`);
  }
  if (dataDir.startsWith('memory://')) {
    throw new Error(`no master key: an in-memory store has nowhere to keep ${MASTER_KEY_FILE}; set ${ENV_NAME}`);
  }
  const path = join(dataDir, MASTER_KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing) return { key: existing, source: 'file', created: false };
  return createKeyFile(dataDir, path);
}

const HOW_TO_GENERATE = 'generate one with `openssl rand -base64 32`';

/** Accepts 64 hex characters, or standard/url-safe base64 decoding to exactly 32 bytes. */
function parseKey(text: string, where: string): Buffer {
  const s = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) {
    const key = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  throw new Error(`${where} must be a ${KEY_BYTES}-byte key written as 64 hex characters or base64; ${HOW_TO_GENERATE}`);
}

async function readKeyFile(path: string): Promise<Buffer | null> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!info.isFile()) throw new Error(`master key file ${path} is not a regular file`);
  // Windows has no POSIX modes; elsewhere anyone else able to read (or swap) the key defeats it.
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(3, '0');
    throw new Error(
      `master key file ${path} is accessible by group or other users (mode ${mode}); ` +
        `restrict it with: chmod 600 ${path}`,
    );
  }
  return parseKey(await readFile(path, 'utf8'), `master key file ${path}`);
}

async function createKeyFile(dataDir: string, path: string): Promise<LoadedMasterKey> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  const tmp = join(dataDir, `.${MASTER_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // O_EXCL + 0600 from the first byte: the key is never on disk with wider permissions.
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await fh.writeFile(`${key.toString('base64')}\n`, 'utf8');
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
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readKeyFile(path);
    if (winner) return { key: winner, source: 'file', created: false };
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
  await chmod(path, 0o600);
  await syncDir(dataDir);
  return { key, source: 'file', created: true };
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
