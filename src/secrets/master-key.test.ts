import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMasterKey } from './master-key.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'timebox-master-key-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const posix = process.platform !== 'win32';

describe('loadMasterKey from TIMEBOX_MASTER_KEY', () => {
  const key = randomBytes(32);

  it('accepts base64 (standard and url-safe) and hex', async () => {
    for (const text of [key.toString('base64'), key.toString('base64url'), key.toString('hex'), ` ${key.toString('hex')}\n`]) {
      const loaded = await loadMasterKey({ env: { TIMEBOX_MASTER_KEY: text } });
      expect(loaded.key.equals(key)).toBe(true);
      expect(loaded).toMatchObject({ source: 'env', created: false });
    }
  });

  it('takes precedence over the key file', async () => {
    const dataDir = join(root, 'env-wins');
    const loaded = await loadMasterKey({ env: { TIMEBOX_MASTER_KEY: key.toString('base64') }, dataDir });
    expect(loaded.source).toBe('env');
    await expect(stat(join(dataDir, 'master.key'))).rejects.toThrow(/ENOENT/);
  });

  it('rejects malformed or wrong-size keys with a clear message that does not echo the value', async () => {
    const bad = ['not a key!', randomBytes(16).toString('base64'), randomBytes(31).toString('hex'), 'z'.repeat(64)];
    for (const text of bad) {
      const err = await loadMasterKey({ env: { TIMEBOX_MASTER_KEY: text } }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/TIMEBOX_MASTER_KEY must be a 32-byte key written as 64 hex characters or base64/);
      expect((err as Error).message).not.toContain(text);
    }
    await expect(loadMasterKey({ env: { TIMEBOX_MASTER_KEY: '' }, dataDir: root })).rejects.toThrow(/set but empty/);
  });
});

describe('loadMasterKey from the data directory', () => {
  it('creates master.key with mode 0600 on first start and reuses it afterwards', async () => {
    const dataDir = join(root, 'fresh', 'data');
    const first = await loadMasterKey({ env: {}, dataDir });
    expect(first).toMatchObject({ source: 'file', created: true });
    expect(first.key).toHaveLength(32);
    if (posix) expect((await stat(join(dataDir, 'master.key'))).mode & 0o777).toBe(0o600);
    expect(await readdir(dataDir)).toEqual(['master.key']); // no temp file left behind

    const second = await loadMasterKey({ env: {}, dataDir });
    expect(second).toMatchObject({ source: 'file', created: false });
    expect(second.key.equals(first.key)).toBe(true);
  });

  it('gives every process the same key when several start at once', async () => {
    const dataDir = join(root, 'race');
    const results = await Promise.all(Array.from({ length: 8 }, () => loadMasterKey({ env: {}, dataDir })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    for (const r of results) expect(r.key.equals(results[0]!.key)).toBe(true);
  });

  it.runIf(posix)('refuses a key file readable by group or others and says how to fix it', async () => {
    const dataDir = join(root, 'loose');
    await loadMasterKey({ env: {}, dataDir });
    const path = join(dataDir, 'master.key');
    for (const mode of [0o640, 0o604, 0o660]) {
      await chmod(path, mode);
      await expect(loadMasterKey({ env: {}, dataDir })).rejects.toThrow(`chmod 600 ${path}`);
    }
    await chmod(path, 0o600);
    await expect(loadMasterKey({ env: {}, dataDir })).resolves.toMatchObject({ created: false });
  });

  it('refuses a corrupted key file instead of replacing it', async () => {
    const dataDir = join(root, 'corrupt');
    await loadMasterKey({ env: {}, dataDir });
    await writeFile(join(dataDir, 'master.key'), 'garbage\n', { mode: 0o600 });
    await expect(loadMasterKey({ env: {}, dataDir })).rejects.toThrow(/master key file .* must be a 32-byte key/);
  });

  it('explains what to do when there is neither an env key nor a data directory', async () => {
    await expect(loadMasterKey({ env: {} })).rejects.toThrow(/no master key: set TIMEBOX_MASTER_KEY/);
    await expect(loadMasterKey({ env: {}, dataDir: 'memory://' })).rejects.toThrow(/in-memory store .* set TIMEBOX_MASTER_KEY/);
  });
});
