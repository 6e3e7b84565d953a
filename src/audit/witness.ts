/**
 * Witnesses keep a copy of every signed checkpoint outside the database, so deleting checkpoints
 * (with the events they cover) from the database is seen. A witness that can be read back takes
 * part in `audit verify`. Later kinds (syslog, webhook) implement the same interface.
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { signedCheckpointSchema, type SignedCheckpoint } from './checkpoints.js';

export interface AuditWitness {
  /** Shown in logs and verify reports, e.g. "file /var/lib/timebox/audit-witness.jsonl". */
  readonly name: string;
  /** Durably records the checkpoints before it returns; throws if it could not. */
  record(checkpoints: readonly SignedCheckpoint[]): Promise<void>;
  /** Every checkpoint recorded so far, for witnesses that can be read back. */
  read?(): Promise<{ checkpoints: SignedCheckpoint[]; unreadable: number }>;
}

export const WITNESS_FILE = 'audit-witness.jsonl';

/** An append-only JSON-lines file, one signed checkpoint a line, synced to disk on every write. */
export function fileWitness(path: string): AuditWitness {
  return {
    name: `file ${path}`,
    async record(checkpoints) {
      if (checkpoints.length === 0) return;
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
      try {
        await fh.writeFile(checkpoints.map((c) => `${JSON.stringify(c)}\n`).join(''), 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
    async read() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { checkpoints: [], unreadable: 0 };
        throw err;
      }
      return parseCheckpointLines(text);
    },
  };
}

/** Parses JSON lines of signed checkpoints; a torn last line (crash mid-write) counts as unreadable. */
export function parseCheckpointLines(text: string): { checkpoints: SignedCheckpoint[]; unreadable: number } {
  const checkpoints: SignedCheckpoint[] = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const parsed = signedCheckpointSchema.safeParse(JSON.parse(line));
      if (parsed.success) checkpoints.push(parsed.data);
      else unreadable++;
    } catch {
      unreadable++;
    }
  }
  return { checkpoints, unreadable };
}
