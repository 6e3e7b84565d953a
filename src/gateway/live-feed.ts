/**
 * How a watched session's output crosses processes: the gateway holding the session publishes
 * frames (live-frames.ts) on a channel of that session, a server relaying it to a browser listens
 * there. On PostgreSQL that is LISTEN/NOTIFY on one connection per process (NOTIFY is delivered
 * at commit, in order, to every process listening); with the embedded store the gateway and the
 * server share the process and the frames go through memory. Viewers ask to watch on a shared
 * channel; a gateway publishes a session's output only while someone asks (and keeps asking).
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';

export interface LiveFeed {
  /** Gateway side: a viewer asks to watch `sessionId`; `token` asks for a sync frame, null keeps watching. */
  onWatchRequest(fn: (sessionId: string, token: string | null) => void): () => void;
  /** Gateway side: frames of one session, delivered in this order. */
  publish(sessionId: string, frames: string[]): void;
  /** Server side: frames of one session; `onLost` when some may have been missed (a lost connection). */
  subscribe(sessionId: string, onFrame: (frame: string) => void, onLost: () => void): Promise<() => void>;
  requestWatch(sessionId: string, token: string | null): Promise<void>;
  close(): Promise<void>;
}

export const WATCH_CHANNEL = 'timebox_gateway_watch';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The session's channel: a lower-case identifier, so LISTEN and pg_notify name the same one. */
export const channelOf = (sessionId: string): string => {
  if (!UUID.test(sessionId)) throw new Error('session id must be a UUID');
  return `tbgw_${sessionId.replaceAll('-', '')}`;
};

/** A watch request's payload handler: `session [token|-]`; anything else is ignored. */
function watchHandler(fn: (sessionId: string, token: string | null) => void): (payload: string) => void {
  return (payload) => {
    const [sessionId, token] = payload.split(' ');
    if (sessionId && UUID.test(sessionId)) fn(sessionId, token && UUID.test(token) ? token : null);
  };
}

/** The embedded store: gateway and server in one process. Delivery stays asynchronous and ordered. */
export function inProcessLiveFeed(): LiveFeed {
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const later = (fn: () => void) => queueMicrotask(fn);
  return {
    onWatchRequest(fn) {
      const h = watchHandler(fn);
      bus.on(WATCH_CHANNEL, h);
      return () => bus.off(WATCH_CHANNEL, h);
    },
    publish(sessionId, frames) {
      const ch = channelOf(sessionId);
      later(() => frames.forEach((f) => bus.emit(ch, f)));
    },
    async subscribe(sessionId, onFrame) {
      const ch = channelOf(sessionId);
      bus.on(ch, onFrame);
      return () => bus.off(ch, onFrame);
    },
    async requestWatch(sessionId, token) {
      later(() => bus.emit(WATCH_CHANNEL, `${sessionId} ${token ?? '-'}`));
    },
    async close() {
      bus.removeAllListeners();
    },
  };
}

/** How the feed's connection names itself in pg_stat_activity. */
export const LIVE_FEED_APPLICATION = 'timebox live sessions';
/** Frames waiting to be sent beyond this are dropped: viewers are told to start over. */
const MAX_QUEUED = 2000;

export function postgresLiveFeed(opts: { databaseUrl: string; log: Logger; reconnectMaxMs?: number }): LiveFeed {
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const listened = new Map<string, number>();
  let client: pg.Client | null = null;
  let ready: Promise<pg.Client> | null = null;
  let closed = false;
  let queue: Array<{ channel: string; payload: string }> = [];
  let sending = false;
  let retryMs = 250;
  let retry: NodeJS.Timeout | null = null;

  // A gateway that only listens (nobody watching yet) would otherwise stay deaf after a lost
  // connection until it next published: come back by itself while any channel is listened to.
  const reconnectLater = () => {
    if (closed || retry || listened.size === 0) return;
    retry = setTimeout(() => {
      retry = null;
      connect().then(
        () => {
          retryMs = 250;
        },
        (err: unknown) => {
          opts.log.warn({ err }, 'live sessions: the feed connection cannot be opened again yet');
          retryMs = Math.min(retryMs * 2, opts.reconnectMaxMs ?? 10_000);
          reconnectLater();
        },
      );
    }, retryMs);
    retry.unref();
  };

  const connect = (): Promise<pg.Client> => {
    ready ??= (async () => {
      const c = new pg.Client({ connectionString: opts.databaseUrl, application_name: LIVE_FEED_APPLICATION });
      c.on('notification', (n) => {
        if (n.payload !== undefined) bus.emit(n.channel, n.payload);
      });
      const lost = (err: unknown) => {
        if (client !== c) return;
        opts.log.warn({ err }, 'live sessions: the feed connection was lost; viewers start over');
        client = null;
        ready = null;
        c.removeAllListeners();
        c.on('error', () => {});
        c.end().catch(() => {});
        // Frames may have been missed: every viewer resynchronises.
        bus.emit('lost');
        reconnectLater();
      };
      c.on('error', lost);
      c.on('end', () => lost(new Error('connection ended')));
      try {
        await c.connect();
        for (const ch of listened.keys()) await c.query(`LISTEN ${ch}`);
      } catch (err) {
        ready = null;
        c.removeAllListeners();
        c.on('error', () => {});
        await c.end().catch(() => {});
        throw err;
      }
      client = c;
      return c;
    })();
    return ready;
  };

  const listen = async (channel: string) => {
    const n = listened.get(channel) ?? 0;
    listened.set(channel, n + 1);
    if (n === 0) await (await connect()).query(`LISTEN ${channel}`);
  };
  const unlisten = (channel: string) => {
    const n = (listened.get(channel) ?? 1) - 1;
    if (n > 0) return listened.set(channel, n);
    listened.delete(channel);
    client?.query(`UNLISTEN ${channel}`).catch(() => {});
  };

  /** One query at a time on one connection: NOTIFYs commit, and so arrive, in publication order. */
  const drain = async () => {
    if (sending) return;
    sending = true;
    try {
      while (queue.length > 0 && !closed) {
        const batch = queue;
        queue = [];
        const c = await connect();
        await c.query('SELECT pg_notify(n.channel, n.payload) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS n(channel, payload, i) ORDER BY n.i', [
          batch.map((b) => b.channel),
          batch.map((b) => b.payload),
        ]);
      }
    } catch (err) {
      opts.log.warn({ err }, 'live sessions: publishing failed; viewers start over');
      queue = [];
    } finally {
      sending = false;
    }
  };
  const send = (channel: string, payloads: string[]) => {
    if (closed) return;
    if (queue.length + payloads.length > MAX_QUEUED) {
      // A viewer that falls this far behind sees a gap in the sequence and starts over.
      return;
    }
    for (const payload of payloads) queue.push({ channel, payload });
    void drain();
  };

  return {
    onWatchRequest(fn) {
      const h = watchHandler(fn);
      bus.on(WATCH_CHANNEL, h);
      void listen(WATCH_CHANNEL).catch((err: unknown) => opts.log.warn({ err }, 'live sessions: cannot listen for viewers'));
      return () => {
        bus.off(WATCH_CHANNEL, h);
        unlisten(WATCH_CHANNEL);
      };
    },
    publish(sessionId, frames) {
      send(channelOf(sessionId), frames);
    },
    async subscribe(sessionId, onFrame, onLost) {
      const ch = channelOf(sessionId);
      bus.on(ch, onFrame);
      bus.on('lost', onLost);
      try {
        await listen(ch);
      } catch (err) {
        bus.off(ch, onFrame);
        bus.off('lost', onLost);
        unlisten(ch);
        throw err;
      }
      return () => {
        bus.off(ch, onFrame);
        bus.off('lost', onLost);
        unlisten(ch);
      };
    },
    async requestWatch(sessionId, token) {
      send(WATCH_CHANNEL, [`${sessionId} ${token ?? '-'}`]);
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      bus.removeAllListeners();
      const c = client;
      client = null;
      ready = null;
      if (c) {
        c.removeAllListeners();
        c.on('error', () => {});
        await c.end().catch(() => {});
      }
    },
  };
}
