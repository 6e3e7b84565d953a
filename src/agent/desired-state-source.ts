/**
 * Where desired states come from: the server by long poll (`HttpDesiredStateSource`, http-source.ts)
 * or a local JSON file (tests, air-gapped hosts, the offline story). A source that fails or goes
 * quiet changes nothing: the enforcer keeps ending grants from its own schedule.
 */
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DesiredStateSchema, type DesiredState } from '../agent-wire/protocol.js';
import { assertNotWritableByOthers } from './state-files.js';

export interface DesiredStateSource {
  /**
   * Resolves with a desired state whose version is above `sinceVersion`, or null when nothing
   * newer came within the source's wait (a long-poll timeout). Rejects on transport or format
   * errors (the caller backs off and asks again). Must stop waiting when `signal` aborts.
   */
  next(sinceVersion: number, signal: AbortSignal): Promise<DesiredState | null>;
}

export interface FileSourceOptions {
  /** How often the file is looked at (fs.watch misses atomic replacements on some filesystems). */
  pollMs?: number;
  /** How long one `next` call waits before answering null, like a long poll. */
  waitMs?: number;
}

export class FileDesiredStateSource implements DesiredStateSource {
  private lastSeen = '';
  private readonly pollMs: number;
  private readonly waitMs: number;

  constructor(
    readonly file: string,
    opts: FileSourceOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 1_000;
    this.waitMs = opts.waitMs ?? 30_000;
  }

  async next(sinceVersion: number, signal: AbortSignal): Promise<DesiredState | null> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const state = await this.readIfChanged();
      if (state && state.version > sinceVersion) return state;
      if (Date.now() >= deadline) return null;
      await sleep(this.pollMs, undefined, { signal });
    }
  }

  private async readIfChanged(): Promise<DesiredState | null> {
    let st;
    try {
      st = await stat(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // no file: nothing new
      throw err;
    }
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (key === this.lastSeen) return null;
    // Marked seen before parsing: a broken file is reported once, not on every poll.
    this.lastSeen = key;
    await assertNotWritableByOthers(this.file);
    const text = await readFile(this.file, 'utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new Error(`${this.file} is not JSON: ${(err as Error).message}`);
    }
    const parsed = DesiredStateSchema.safeParse(json);
    if (!parsed.success) throw new Error(`${this.file} is not a desired state: ${parsed.error.message}`);
    return parsed.data;
  }
}
