/**
 * Private scratch directories for ssh-keygen runs that need a CA private key on disk.
 *
 * ssh-keygen only reads keys from files, so the decrypted CA key must exist as a file for the
 * few milliseconds of a signing. It lives in a fresh 0700 directory (0600 files), preferably on
 * a RAM-backed tmpfs so it never reaches a disk, and the directory is removed in `finally`
 * whatever happens.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** /dev/shm is tmpfs on Linux: a key written there is never paged to a filesystem on disk. */
export function defaultScratchRoot(): string {
  const shm = '/dev/shm';
  try {
    if (statSync(shm).isDirectory()) {
      accessSync(shm, constants.W_OK);
      return shm;
    }
  } catch {
    // not Linux, or not writable: fall back to the OS temporary directory
  }
  return os.tmpdir();
}

export async function withPrivateDir<T>(root: string | undefined, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(root ?? defaultScratchRoot(), 'timebox-cred-'));
  try {
    await chmod(dir, 0o700); // mkdtemp already uses 0700; be explicit whatever the umask did
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes a file only its owner can read (what ssh-keygen insists on for private keys). */
export async function writePrivateFile(file: string, content: string | Buffer): Promise<void> {
  await writeFile(file, content, { mode: 0o600, flag: 'wx' });
}

/** Where the OpenSSH client installs ssh-keygen; never $PATH, which the environment controls. */
export const SSH_KEYGEN_LOCATIONS = ['/usr/bin/ssh-keygen', '/bin/ssh-keygen', '/usr/local/bin/ssh-keygen'];

/**
 * The ssh-keygen to run: TIMEBOX_SSH_KEYGEN when set (an absolute path), else the first of the
 * fixed system locations that exists. A directory planted early in $PATH is never consulted.
 */
export function resolveSshKeygen(setting: string | undefined, exists: (file: string) => boolean = existsSync): string {
  if (setting) {
    if (!path.isAbsolute(setting)) throw new Error(`TIMEBOX_SSH_KEYGEN must be an absolute path, not ${JSON.stringify(setting)}`);
    if (!exists(setting)) throw new Error(`TIMEBOX_SSH_KEYGEN points to ${setting}, which does not exist`);
    return setting;
  }
  const found = SSH_KEYGEN_LOCATIONS.find((f) => exists(f));
  if (!found) throw new Error(`ssh-keygen not found in ${SSH_KEYGEN_LOCATIONS.join(', ')}: install the OpenSSH client (Debian: openssh-client) or set TIMEBOX_SSH_KEYGEN`);
  return found;
}

/**
 * Runs ssh-keygen with an argv (never a shell). Arguments hold file paths and validated names,
 * never key material; its stderr is safe to surface.
 */
export function sshKeygen(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      resolveSshKeygen(process.env.TIMEBOX_SSH_KEYGEN),
      args,
      { timeout: 30_000, maxBuffer: 1024 * 1024, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`ssh-keygen failed: ${String(stderr).trim() || err.message}`));
        else resolve(String(stdout));
      },
    );
  });
}
