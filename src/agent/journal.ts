/**
 * The local journal: one JSON line per outcome (accepted, activated, ended with what was verified,
 * errors), fsynced, so the agent can report them when a server is reachable again. Entry ids are
 * stable per grant and event, so an entry written twice around a crash is one fact to the server.
 * Secrets are never written here.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { JournalEntrySchema, type JournalCode, type JournalEntry, type JournalEvent } from '../agent-wire/protocol.js';
import { appendLineDurable } from './state-files.js';

export const JOURNAL_FILE = 'journal.jsonl';

export class Journal {
  readonly file: string;
  /** Called after each entry is durably written (the uploader wakes up). */
  onRecord: (() => void) | null = null;

  constructor(
    stateDir: string,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.file = path.join(stateDir, JOURNAL_FILE);
  }

  record(
    grantId: string | null,
    event: JournalEvent,
    message: string,
    extra: { idSuffix?: string; verified?: JournalEntry['verified']; code?: JournalCode; findings?: JournalEntry['findings'] } = {},
  ): JournalEntry {
    const entry: JournalEntry = {
      id: [grantId ?? '-', event, extra.idSuffix].filter(Boolean).join(':'),
      at: this.clock.now().toISOString(),
      grantId,
      event,
      ...(extra.code ? { code: extra.code } : {}),
      message,
      ...(extra.verified ? { verified: extra.verified } : {}),
      ...(extra.findings ? { findings: extra.findings } : {}),
    };
    appendLineDurable(this.file, JSON.stringify(entry));
    const level = event === 'error' || event === 'rejected' || event === 'drift' ? 'warn' : 'info';
    this.log[level]({ grantId, event, verified: entry.verified, findings: entry.findings }, message);
    this.onRecord?.();
    return entry;
  }

  /** Every entry so far (a torn last line from a crash mid-append is skipped). */
  async entries(): Promise<JournalEntry[]> {
    const text = await readFile(this.file, 'utf8').catch(() => '');
    const out: JournalEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JournalEntrySchema.safeParse(JSON.parse(line));
        if (r.success) out.push(r.data);
      } catch {
        // torn line
      }
    }
    return out;
  }
}
