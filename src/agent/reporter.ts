/**
 * Reports to the server: journal entries (uploaded as soon as they are written, idempotent by
 * entry id, from a durable offset so nothing is skipped across restarts and nothing is re-read for
 * ever) and a heartbeat with the agent's version and counts. Failures back off with jitter and
 * never touch enforcement.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AgentClient } from './http-client.js';
import { jitteredBackoff } from './http-source.js';
import type { Journal } from './journal.js';
import { JOURNAL_BATCH, JournalEntrySchema, type AgentHealth, type JournalEntry } from '../agent-wire/protocol.js';
import type { ScheduleStore } from './schedule.js';
import { readJsonIfExists, writeFileAtomic } from './state-files.js';
import { AGENT_VERSION } from './version.js';
import { escapeUnsafeText } from '../core/text.js';

/**
 * Messages may quote a host command's output: control characters the server refuses (it would
 * refuse the whole batch, for ever) are sent escaped as \uXXXX instead.
 */
function sendable(e: JournalEntry): JournalEntry {
  const escape = (t: string) => escapeUnsafeText(t, { keepLines: true, backslash: false });
  const verified = e.verified
    ? Object.fromEntries(Object.entries(e.verified).map(([k, v]) => [escape(k), typeof v === 'string' ? escape(v) : v]))
    : undefined;
  return { ...e, message: escape(e.message), ...(verified ? { verified } : {}) };
}

export const UPLOAD_OFFSET_FILE = 'journal-uploaded.json';

export interface ReporterOptions {
  client: AgentClient;
  journal: Journal;
  store: ScheduleStore;
  stateDir: string;
  log: Logger;
  heartbeatMs?: number;
  backoffMaxMs?: number;
}

interface Pending {
  entries: JournalEntry[];
  /** Byte offset just after the last complete line read. */
  end: number;
}

export class Reporter {
  private wake: (() => void) | null = null;
  private kicked = false;
  private readonly offsetFile: string;
  private offset = 0;
  private backlog = 0;

  constructor(private readonly opts: ReporterOptions) {
    this.offsetFile = path.join(opts.stateDir, UPLOAD_OFFSET_FILE);
  }

  /** Something new is in the journal: upload it now. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    const saved = (await readJsonIfExists(this.offsetFile).catch(() => undefined)) as { offset?: unknown } | undefined;
    this.offset = typeof saved?.offset === 'number' && saved.offset >= 0 ? saved.offset : 0;
    const heartbeatMs = this.opts.heartbeatMs ?? 30_000;
    let nextHeartbeat = 0;
    let failures = 0;
    while (!signal.aborted) {
      this.kicked = false;
      let waitMs: number;
      try {
        await this.uploadJournal(signal);
        if (Date.now() >= nextHeartbeat) {
          await this.heartbeat(signal);
          nextHeartbeat = Date.now() + heartbeatMs;
        }
        if (failures > 0) this.opts.log.info('reporting to the server again');
        failures = 0;
        waitMs = Math.max(0, nextHeartbeat - Date.now());
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        waitMs = jitteredBackoff(failures, this.opts.backoffMaxMs ?? 30_000);
        this.opts.log.warn({ err: (err as Error).message, retryInMs: waitMs }, 'could not report to the server; the journal is kept until it can');
      }
      if (this.kicked && failures === 0) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          this.wake = null;
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        signal.addEventListener('abort', done, { once: true });
        // A new entry wakes the uploader at once, unless it is backing off from a failure.
        this.wake = failures === 0 ? done : null;
      });
    }
  }

  private async readPending(): Promise<Pending> {
    const file = this.opts.journal.file;
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], end: this.offset };
      throw err;
    }
    // A journal replaced by a shorter one (restored, truncated): send it all again (idempotent).
    if (size < this.offset) this.offset = 0;
    if (size === this.offset) return { entries: [], end: this.offset };
    const fh = await open(file, 'r');
    let text: string;
    try {
      const buf = Buffer.alloc(Math.min(size - this.offset, 4 << 20));
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
    const entries: JournalEntry[] = [];
    let consumed = 0;
    for (;;) {
      const nl = text.indexOf('\n', consumed);
      // A line without its newline is still being written (or torn): left for the next round.
      if (nl < 0 || entries.length >= JOURNAL_BATCH) break;
      const line = text.slice(consumed, nl);
      consumed = nl + 1;
      if (!line.trim()) continue;
      try {
        const r = JournalEntrySchema.safeParse(JSON.parse(line));
        if (r.success) entries.push(sendable(r.data));
      } catch {
        // a torn line from a crash mid-append: skipped, as the journal reader does
      }
    }
    return { entries, end: this.offset + Buffer.byteLength(text.slice(0, consumed)) };
  }

  private async uploadJournal(signal: AbortSignal): Promise<void> {
    for (;;) {
      const pending = await this.readPending();
      if (pending.end === this.offset) {
        this.backlog = 0;
        return;
      }
      this.backlog = pending.entries.length;
      if (pending.entries.length) {
        await this.opts.client.mustCall('POST', '/api/v1/agents/journal', { entries: pending.entries }, { signal, timeoutMs: 30_000 });
      }
      this.offset = pending.end;
      await writeFileAtomic(this.offsetFile, JSON.stringify({ offset: this.offset }));
    }
  }

  health(): AgentHealth {
    const grants: Record<string, number> = {};
    let failing = 0;
    for (const g of this.opts.store.grants()) {
      grants[g.status] = (grants[g.status] ?? 0) + 1;
      if (g.failures > 0) failing++;
    }
    return { appliedVersion: this.opts.store.desiredVersion, grants, failing, journalBacklog: this.backlog };
  }

  private async heartbeat(signal: AbortSignal): Promise<void> {
    await this.opts.client.mustCall('POST', '/api/v1/agents/heartbeat', { version: AGENT_VERSION, health: this.health() }, { signal, timeoutMs: 30_000 });
  }
}
