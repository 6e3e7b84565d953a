/**
 * The live view's PostgreSQL feed after its connection is killed (a database restart, a proxy
 * cutting idle connections): viewers are told to start over, and both ends come back by
 * themselves: a gateway that was only waiting for viewers hears the next one and its frames reach
 * them, with nothing published or restarted in between to wake it.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { LIVE_FEED_APPLICATION, postgresLiveFeed, type LiveFeed } from '../../src/gateway/live-feed.js';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';

let database: TestDatabase;
let gateway: LiveFeed;
let server: LiveFeed;
const asks: Array<{ sessionId: string; token: string | null }> = [];
let onAsk: (() => void) | null = null;

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  const log = pino({ level: 'silent' });
  gateway = postgresLiveFeed({ databaseUrl: database.url, log, reconnectMaxMs: 500 });
  server = postgresLiveFeed({ databaseUrl: database.url, log, reconnectMaxMs: 500 });
  gateway.onWatchRequest((sessionId, token) => {
    asks.push({ sessionId, token });
    onAsk?.();
  });
});

afterAll(async () => {
  await gateway?.close();
  await server?.close();
  await database?.drop();
});

/** A viewer asks again and again (as the live view does every few seconds) until the gateway hears it. */
async function askUntilHeard(sessionId: string, token: string, withinMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const heard = new Promise<void>((resolve) => {
      onAsk = () => {
        if (asks.some((a) => a.token === token)) resolve();
      };
    });
    await server.requestWatch(sessionId, token);
    const timeout = new Promise<'no'>((resolve) => setTimeout(() => resolve('no'), 250));
    if ((await Promise.race([heard, timeout])) !== 'no') return Date.now() - started;
    if (Date.now() - started > withinMs) throw new Error(`the gateway did not hear a viewer within ${withinMs} ms`);
  }
}

async function killFeedConnections(): Promise<number> {
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  try {
    const r = await c.query<{ pid: number }>(
      'SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
      [LIVE_FEED_APPLICATION],
    );
    return r.rowCount ?? 0;
  } finally {
    await c.end();
  }
}

it('after its connections are killed, viewers start over and the gateway hears the next viewer and reaches it', async () => {
  const sessionId = randomUUID();
  await askUntilHeard(sessionId, randomUUID(), 10_000);

  const lost = new Promise<void>((resolve) => void server.subscribe(sessionId, () => {}, resolve));
  // Both processes' feed connections: the gateway's and the server's.
  await expect.poll(killFeedConnections, { timeout: 10_000 }).toBe(2);
  await lost;

  // Nothing wakes the gateway but its own reconnect: it publishes nothing and nobody restarts it.
  await askUntilHeard(sessionId, randomUUID(), 20_000);

  // A viewer subscribing now (subscribe resolves once it listens) receives what the gateway publishes, in order.
  const frames: string[] = [];
  const got3 = new Promise<void>((resolve) => {
    const unsubscribe = server.subscribe(
      sessionId,
      (f) => {
        frames.push(f);
        if (frames.length === 3) resolve();
      },
      () => {},
    );
    void unsubscribe.then(() => gateway.publish(sessionId, ['a', 'b', 'c']));
  });
  await got3;
  expect(frames).toEqual(['a', 'b', 'c']);
});
