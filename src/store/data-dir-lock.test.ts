/**
 * The embedded store's folder lock: another live Timebox process holding it refuses the start; a
 * lock left by a process that is gone, or whose pid now belongs to another program, is taken over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
    expect(await readFile(lockFile(), 'utf8')).toBe(`${process.pid}\n`);
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
    expect(await readFile(lockFile(), 'utf8')).toBe(`${process.pid}\n`);
    await release();
  });
});
