/**
 * The gateway side of the live view for one session: output is published only while a viewer
 * asks (asked again every few seconds by the server relaying it). A new viewer's request flushes
 * the recording first and answers with a sync frame naming the last event the file holds; every
 * later event is published, so the viewer reads the file, then the frames, without a gap.
 */
import type { LiveFeed } from './live-feed.js';
import { endFrame, eventFrames, syncFrame } from './live-frames.js';

/** A viewer that stopped asking for this long is gone. */
export const WATCH_TTL_MS = 30_000;

export interface SessionPublisher {
  event(seq: number, line: string): void;
  /** The session ended with `seq` events in its closed recording. */
  ended(seq: number): void;
}

export function createSessionPublisher(feed: LiveFeed, sessionId: string, flushNow: () => Promise<number>, onError: (err: unknown) => void): SessionPublisher {
  let watchedUntil = 0;
  let everWatched = false;
  const stop = feed.onWatchRequest((id, token) => {
    if (id !== sessionId) return;
    watchedUntil = Date.now() + WATCH_TTL_MS;
    everWatched = true;
    if (token) flushNow().then((seq) => feed.publish(sessionId, [syncFrame(token, seq)]), onError);
  });
  return {
    event(seq, line) {
      if (Date.now() < watchedUntil) feed.publish(sessionId, eventFrames(seq, line));
    },
    ended(seq) {
      stop();
      if (everWatched) feed.publish(sessionId, [endFrame(seq)]);
    },
  };
}
