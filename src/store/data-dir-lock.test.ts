/**
 * The embedded store's folder lock: another live Timebox process holding it refuses the start; a
 * lock left by a process that is gone, or whose pid now belongs to another program, is taken over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SettingsError } from '../core/errors.js';
import { lockDataDir } from './data-dir-lock.js';

let dir = '';
const children: ChildProcess[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tb-lock-'));
});
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const lockFile = () => path.join(dir, 'timebox.lock');
async function running(command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  return child;
}

describe('the data folder lock', () => {
  it('is taken, released, and taken again', async () => {
    const release = await lockDataDir(dir);
    expect(await readFile(lockFile(), 'utf8')).toMatch(new RegExp(`^${process.pid} \\S+\n$`));
    await release();
    await expect(readFile(lockFile(), 'utf8')).rejects.toThrow(/ENOENT/);
    await (await lockDataDir(dir))();
  });

  it('refuses while another Node process holds it, naming it', async () => {
    const other = await running(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
    await writeFile(lockFile(), `${other.pid}\n`);
    const err = await lockDataDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SettingsError);
    expect((err as Error).message).toMatch(new RegExp(`is in use by another Timebox process \\(pid ${other.pid}\\)`));
  });

  it('takes over a lock whose process is gone, or whose pid another program now has', async () => {
    const gone = await running(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    await writeFile(lockFile(), `${gone.pid}\n`);
    await (await lockDataDir(dir))();

    const sleeper = await running('/bin/sleep', ['60']);
    await writeFile(lockFile(), `${sleeper.pid}\n`);
    const release = await lockDataDir(dir);
    expect(await readFile(lockFile(), 'utf8')).toMatch(new RegExp(`^${process.pid} \\S+\n$`));
    await release();
  });
  it('a process of another pid namespace (same pid here) holds it while it refreshes the file, not after', async () => {
    await writeFile(lockFile(), `${process.pid} another-container\n`);
    await expect(lockDataDir(dir, { token: 'me' })).rejects.toThrow(/is in use by another Timebox process/);
    const old = new Date(Date.now() - 60_000);
    await utimes(lockFile(), old, old);
    await (await lockDataDir(dir, { token: 'me' }))();
  });

  it('of several processes racing for a stale lock, exactly one takes it', async () => {
    for (let round = 0; round < 5; round++) {
      const gone = await running(process.execPath, ['-e', '']);
      await once(gone, 'exit');
      await writeFile(lockFile(), `${gone.pid} dead\n`);
      const outcomes = await Promise.allSettled([1, 2, 3, 4].map((n) => lockDataDir(dir, { token: `racer-${round}-${n}` })));
      const won = outcomes.filter((o): o is PromiseFulfilledResult<() => Promise<void>> => o.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(SettingsError);
      await won[0]!.value();
    }
  });
});
