/**
 * ssh-keygen comes from a fixed system location (or an explicit setting), never from $PATH: a
 * fake ssh-keygen planted first in $PATH, which would receive the CA private key's file, is not run.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSshKeygen, sshKeygen, SSH_KEYGEN_LOCATIONS, withPrivateDir } from './private-dir.js';

let planted: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  planted = await mkdtemp(path.join(tmpdir(), 'tb-planted-'));
  await writeFile(path.join(planted, 'ssh-keygen'), `#!/bin/sh\necho "$@" > ${planted}/ran\nexit 0\n`);
  await chmod(path.join(planted, 'ssh-keygen'), 0o755);
});
afterAll(async () => {
  process.env.PATH = savedPath;
  await rm(planted, { recursive: true, force: true });
});

describe('which ssh-keygen runs', () => {
  it('is not the one planted first in $PATH', async () => {
    process.env.PATH = `${planted}:${savedPath}`;
    try {
      await withPrivateDir(undefined, async (dir) => {
        const key = path.join(dir, 'k');
        await sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', key]);
        expect((await readFile(`${key}.pub`, 'utf8')).startsWith('ssh-ed25519 ')).toBe(true);
      });
    } finally {
      process.env.PATH = savedPath;
    }
    await expect(stat(path.join(planted, 'ran'))).rejects.toThrow(/ENOENT/);
  });

  it('is the first fixed location that exists, or the setting', () => {
    const only = (f: string) => (file: string) => file === f;
    expect(resolveSshKeygen(undefined, only('/bin/ssh-keygen'))).toBe('/bin/ssh-keygen');
    expect(resolveSshKeygen(undefined, () => true)).toBe(SSH_KEYGEN_LOCATIONS[0]);
    expect(resolveSshKeygen('/opt/openssh/bin/ssh-keygen', () => true)).toBe('/opt/openssh/bin/ssh-keygen');
    expect(() => resolveSshKeygen('ssh-keygen', () => true)).toThrow(/must be an absolute path/);
    expect(() => resolveSshKeygen('/nope/ssh-keygen', () => false)).toThrow(/does not exist/);
    expect(() => resolveSshKeygen(undefined, () => false)).toThrow(/ssh-keygen not found in \/usr\/bin\/ssh-keygen/);
  });
});
