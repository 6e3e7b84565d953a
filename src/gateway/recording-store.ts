/**
 * Where encrypted recordings live. Local disk under the data directory by default; the interface
 * is what another store (object storage) would implement. Files are only ever appended to.
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export interface RecordingSink {
  /** Appends the pieces in order (one chunk); resolves once the operating system has them (they survive a killed process). */
  append(bytes: Buffer | readonly Buffer[]): Promise<void>;
  /** Flushes to the disk itself and closes. */
  close(): Promise<void>;
}

export interface RecordingStore {
  create(sessionId: string): Promise<RecordingSink>;
  /** The whole file as written so far, or null when there is none. */
  read(sessionId: string): Promise<Buffer | null>;
  remove(sessionId: string): Promise<void>;
}

const ID = /^[0-9a-f-]{36}$/;

export function localRecordingStore(dir: string): RecordingStore {
  const fileOf = (id: string) => {
    // Ids are UUIDs the gateway made; anything else never becomes a path.
    if (!ID.test(id)) throw new Error('recording id must be a UUID');
    return path.join(dir, `${id}.tbrec`);
  };
  return {
    async create(sessionId) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const handle: FileHandle = await open(fileOf(sessionId), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o600);
      let queue: Promise<void> = Promise.resolve();
      return {
        append(bytes) {
          // One write per chunk, in order: a kill cuts at most the chunk being written.
          queue = queue.then(async () => {
            if (Buffer.isBuffer(bytes)) await handle.write(bytes);
            else await handle.writev(bytes as Buffer[]);
          });
          return queue;
        },
        async close() {
          await queue;
          await handle.sync();
          await handle.close();
        },
      };
    },
    async read(sessionId) {
      try {
        return await readFile(fileOf(sessionId));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async remove(sessionId) {
      await rm(fileOf(sessionId), { force: true });
    },
  };
}
