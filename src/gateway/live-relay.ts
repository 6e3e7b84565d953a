/**
 * The server side of the live view for one viewer: what the recording holds so far (decrypted),
 * then the gateway's published events, in sequence, without a gap or a repeat. Events are
 * numbered as the lines of the asciicast file, so the file and the frames line up:
 * 1. listen on the session's channel, then ask its gateway to watch with a fresh token;
 * 2. the gateway flushes and answers `S token n`: the file holds 1..n, and everything after n is
 *    published from then on; frames received before the file is read wait;
 * 3. the file is read and sent, then the waiting frames, dropping what was already sent.
 * A sequence that jumps (frames lost with a connection) ends with `resync`: the viewer starts over.
 * Until the gateway answers (or when it cannot: another gateway without a feed, or one that
 * died), and once the session ended, the file itself is read each second.
 */
import { randomUUID } from 'node:crypto';
import type { GatewaySessionRow } from '../store/schema-gateway.js';
import type { LiveFeed } from './live-feed.js';
import { createFrameReader } from './live-frames.js';
import { WATCH_TTL_MS } from './live-publisher.js';

export type CastEvent = [number, string, string];

export interface RelaySink {
  header(h: { width: number; height: number }): void;
  event(seq: number, e: CastEvent): void;
  /** The session ended and everything it recorded was sent. */
  ended(): void;
  /** Frames were lost: the viewer should start over. */
  resync(): void;
}

export interface RelayDeps {
  feed: LiveFeed | null;
  /** The asciicast text the recording holds now. */
  readText(): Promise<string>;
  /** Whether the session's row says it ended. */
  hasEnded(): Promise<boolean>;
  pollMs?: number;
}

export async function relaySession(deps: RelayDeps, row: Pick<GatewaySessionRow, 'id'>, sink: RelaySink): Promise<() => void> {
  const pollMs = deps.pollMs ?? 1000;
  const token = randomUUID();
  let last = 0;
  let headerSent = false;
  let synced = false;
  let done = false;
  const waiting: Array<[number, string]> = [];
  let work: Promise<void> = Promise.resolve();
  const queue = (fn: () => Promise<void> | void) => {
    work = work.then(fn).catch(() => finish('resync'));
  };

  const deliver = (seq: number, line: string) => {
    if (done || seq <= last) return;
    if (seq !== last + 1) return finish('resync');
    last = seq;
    const e = JSON.parse(line) as CastEvent;
    sink.event(seq, e);
  };

  const readFile = async () => {
    const text = await deps.readText();
    const lines = text.split('\n').filter((l) => l !== '');
    if (lines.length === 0) return;
    if (!headerSent) {
      const h = JSON.parse(lines[0]!) as { width?: number; height?: number };
      sink.header({ width: h.width ?? 80, height: h.height ?? 24 });
      headerSent = true;
    }
    for (let i = 1; i < lines.length; i++) deliver(i, lines[i]!);
  };

  let unsubscribe: (() => void) | null = null;
  let timer: NodeJS.Timeout | null = null;
  let lastAsk = Date.now();
  const finish = (how: 'ended' | 'resync') => {
    if (done) return;
    done = true;
    if (timer) clearInterval(timer);
    unsubscribe?.();
    if (how === 'ended') sink.ended();
    else sink.resync();
  };

  const readFrame = createFrameReader();
  if (deps.feed && !(await deps.hasEnded())) {
    unsubscribe = await deps.feed.subscribe(
      row.id,
      (payload) => {
        const f = readFrame(payload);
        if (!f) return;
        queue(async () => {
          if (f.kind === 'event') {
            if (synced) deliver(f.seq, f.line);
            else waiting.push([f.seq, f.line]);
          } else if (f.kind === 'sync' && f.token === token && !synced) {
            await readFile();
            synced = true;
            for (const [seq, line] of waiting.splice(0)) deliver(seq, line);
          } else if (f.kind === 'end') {
            await readFile();
            if (last >= f.seq) finish('ended');
          }
        });
      },
      () => queue(() => finish('resync')),
    );
    await deps.feed.requestWatch(row.id, token);
  }

  // The file each second until synced, and the row, so an end is never missed.
  const tick = () =>
    queue(async () => {
      if (done) return;
      if (deps.feed && Date.now() - lastAsk > WATCH_TTL_MS / 3) {
        lastAsk = Date.now();
        await deps.feed.requestWatch(row.id, null);
      }
      const ended = await deps.hasEnded();
      if (!synced || ended) await readFile();
      if (ended) finish('ended');
    });
  tick();
  timer = setInterval(tick, pollMs);
  return () => {
    done = true;
    if (timer) clearInterval(timer);
    unsubscribe?.();
  };
}
