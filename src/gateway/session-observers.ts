/**
 * What watches a session's bytes besides the recorder: the live view's publisher (when a live
 * feed is configured) and, for shells on a terminal, the command lines entered at the prompt,
 * written to the database as they happen.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/schema.js';
import { createCommandTracker, type CommandTracker } from './command-line.js';
import type { LiveFeed } from './live-feed.js';
import { createSessionPublisher, type SessionPublisher } from './live-publisher.js';
import { insertCommand } from './session-commands.js';

export interface SessionObservers {
  /** The recorder's event tap. */
  onEvent(seq: number, line: string): void;
  input(data: Buffer): void;
  output(data: Buffer): void;
  /** After the recording closed with `events` events and the row was written. */
  finish(events: number): Promise<void>;
}

export function observeSession(
  deps: { db: Kysely<Database>; log: Logger; liveFeed?: LiveFeed },
  s: { id: string; tenantId: string; trackCommands: boolean; elapsedMs: () => number; flushNow: () => Promise<number> },
): SessionObservers {
  const publisher: SessionPublisher | null = deps.liveFeed
    ? createSessionPublisher(deps.liveFeed, s.id, s.flushNow, (err) => deps.log.warn({ err, sessionId: s.id }, 'live view: flushing for a viewer failed'))
    : null;
  let writes: Promise<void> = Promise.resolve();
  let ordinal = 0;
  let tracker: CommandTracker | null = s.trackCommands
    ? createCommandTracker((c) => {
        const n = ++ordinal;
        writes = writes
          .then(() => insertCommand(deps.db, { tenantId: s.tenantId, sessionId: s.id, ordinal: n, offsetMs: c.atMs, text: c.text }))
          .catch((err: unknown) => deps.log.warn({ err, sessionId: s.id }, 'recording an entered command failed'));
      })
    : null;
  const inText = new StringDecoder('utf8');
  const outText = new StringDecoder('utf8');
  // The tracker reads what the person and the host send: whatever fault it has ends the tracking
  // of this session (said in the log), never the session or the process carrying the others.
  // Bytes are decoded inside `feed`: untracked sessions (bulk output) pay nothing here.
  const track = (feed: (t: CommandTracker) => void) => {
    if (!tracker) return;
    try {
      feed(tracker);
    } catch (err) {
      tracker = null;
      deps.log.error({ err, sessionId: s.id }, 'command tracking stopped for this session: the tracker failed on what the session sent');
    }
  };
  return {
    onEvent: (seq, line) => publisher?.event(seq, line),
    input: (data) => track((t) => t.input(inText.write(data), s.elapsedMs())),
    output: (data) => track((t) => t.output(outText.write(data))),
    async finish(events) {
      await writes;
      publisher?.ended(events);
    },
  };
}
