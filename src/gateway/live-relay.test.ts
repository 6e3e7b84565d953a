/**
 * The live view's protocol end to end in one process (the in-memory feed; the PostgreSQL one is
 * exercised by the dashboard test): a viewer who arrives mid-session gets what the recording held,
 * then the events as they happen, each once and in order, then the end.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createAsciicastRecorder } from './asciicast-recorder.js';
import { inProcessLiveFeed } from './live-feed.js';
import { eventFrames, syncFrame } from './live-frames.js';
import { createSessionPublisher } from './live-publisher.js';
import { relaySession, type CastEvent } from './live-relay.js';
import { openRecording } from './recording-format.js';
import { localRecordingStore } from './recording-store.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it('sends the recording so far, then the live tail, gap-free and without repeats, then the end', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tb-live-'));
  dirs.push(dir);
  const store = localRecordingStore(dir);
  const feed = inProcessLiveFeed();
  const id = randomUUID();
  const key = randomBytes(32);
  // A flush interval longer than the test: only the viewer's arrival flushes.
  const publisher = createSessionPublisher(feed, id, () => recorder.flushNow(), (err) => {
    throw err;
  });
  const recorder = createAsciicastRecorder({
    sessionId: id,
    key,
    sink: await store.create(id),
    header: { width: 100, height: 30, timestamp: 1 },
    recordInput: false,
    flushMs: 2000,
    onEvent: (seq, line) => publisher.event(seq, line),
  });
  let ended = false;
  for (const word of ['one ', 'two ', 'three ']) recorder.output(Buffer.from(word));

  const got: Array<[number, CastEvent]> = [];
  let header: { width: number; height: number } | null = null;
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => (finished = resolve));
  const stop = await relaySession(
    {
      feed,
      readText: async () => openRecording(key, id, (await store.read(id)) ?? Buffer.alloc(0)).plaintext.toString('utf8'),
      hasEnded: async () => ended,
      pollMs: 50,
    },
    { id },
    {
      header: (h) => (header = h),
      event: (seq, e) => got.push([seq, e]),
      ended: () => finished(),
      resync: () => {
        throw new Error('no frame was lost');
      },
    },
  );
  // Output keeps coming while the viewer joins, and after.
  for (const word of ['four ', 'five ', 'six ']) {
    recorder.output(Buffer.from(word));
    await new Promise((r) => setImmediate(r));
  }
  await expect.poll(() => got.length).toBe(6);
  recorder.resize(120, 40);
  recorder.output(Buffer.from('seven'));
  await recorder.close();
  ended = true;
  publisher.ended(await recorder.flushNow());
  await done;
  stop();

  expect(header).toEqual({ width: 100, height: 30 });
  expect(got.map(([seq]) => seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(
    got
      .filter(([, e]) => e[1] === 'o')
      .map(([, e]) => e[2])
      .join(''),
  ).toBe('one two three four five six seven');
  expect(got[6]![1]).toEqual([expect.any(Number), 'r', '120x40']);
});

it('a lost frame ends the stream with resync: the viewer starts over instead of showing a hole', async () => {
  const feed = inProcessLiveFeed();
  const id = randomUUID();
  const header = `${JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1 })}\n`;
  const line = (t: number, s: string) => `${JSON.stringify([t, 'o', s])}\n`;
  // A stand-in gateway: the file holds event 1; it answers the viewer, then event 3 arrives without 2.
  feed.onWatchRequest((sid, token) => {
    if (sid !== id || !token) return;
    feed.publish(id, [syncFrame(token, 1), ...eventFrames(3, line(0.3, 'three'))]);
  });
  const got: number[] = [];
  let resynced: () => void = () => {};
  const resync = new Promise<void>((resolve) => (resynced = resolve));
  const stop = await relaySession(
    { feed, readText: async () => header + line(0.1, 'one'), hasEnded: async () => false, pollMs: 50 },
    { id },
    { header: () => {}, event: (seq) => got.push(seq), ended: () => {}, resync: () => resynced() },
  );
  await resync;
  stop();
  expect(got).toEqual([1]);
});
