import { randomBytes, createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, createAsciicastRecorder } from './asciicast-recorder.js';
import { openRecording, RecordingTamperedError, sealChunk } from './recording-format.js';
import { localRecordingStore, type RecordingSink } from './recording-store.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function store() {
  const dir = await mkdtemp(path.join(tmpdir(), 'tb-rec-'));
  dirs.push(dir);
  return { dir, store: localRecordingStore(dir) };
}

const events = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as unknown);

describe('asciicast recording, sealed in chunks', () => {
  it('round-trips output, resizes and (when asked) input; hash and size are of the plain asciicast', async () => {
    const { store: s } = await store();
    const id = randomUUID();
    const key = randomBytes(32);
    let t = 0;
    const rec = createAsciicastRecorder({ sessionId: id, key, sink: await s.create(id), header: { width: 80, height: 24, timestamp: 1 }, recordInput: true, now: () => t });
    rec.output(Buffer.from('hello '));
    t = 1500;
    // A multi-byte character split across two reads stays whole.
    const euro = Buffer.from('€', 'utf8');
    rec.output(euro.subarray(0, 1));
    rec.output(euro.subarray(1));
    rec.input(Buffer.from('ls\r'));
    rec.resize(100, 30);
    const summary = await rec.close();
    const opened = openRecording(key, id, (await s.read(id))!);
    expect(opened.complete).toBe(true);
    expect(createHash('sha256').update(opened.plaintext).digest('hex')).toBe(summary.sha256);
    expect(opened.plaintext.length).toBe(summary.bytes);
    expect(events(opened.plaintext.toString('utf8'))).toEqual([
      { version: 2, width: 80, height: 24, timestamp: 1 },
      [0, 'o', 'hello '],
      [1.5, 'o', '€'],
      [1.5, 'i', 'ls\r'],
      [1.5, 'r', '100x30'],
    ]);
  });

  it('leaves input out unless asked', async () => {
    const { store: s } = await store();
    const id = randomUUID();
    const key = randomBytes(32);
    const rec = createAsciicastRecorder({ sessionId: id, key, sink: await s.create(id), header: { width: 80, height: 24, timestamp: 1 }, recordInput: false });
    rec.input(Buffer.from('secret\r'));
    rec.output(Buffer.from('ok'));
    await rec.close();
    const text = openRecording(key, id, (await s.read(id))!).plaintext.toString();
    expect(text).not.toContain('secret');
    expect(text).toContain('"ok"');
  });

  it('a file cut mid-chunk opens up to the last whole chunk, marked incomplete', async () => {
    const { dir, store: s } = await store();
    const id = randomUUID();
    const key = randomBytes(32);
    const sink = await s.create(id);
    await sink.append(Buffer.from('TBREC1\n'));
    await sink.append(sealChunk(key, id, 0, Buffer.from('{"version":2}\n'), false));
    const second = sealChunk(key, id, 1, Buffer.from('[1,"o","x"]\n'), false);
    await sink.append(second.subarray(0, second.length - 5));
    await sink.close();
    const opened = openRecording(key, id, await readFile(path.join(dir, `${id}.tbrec`)));
    expect(opened).toMatchObject({ complete: false, chunks: 1, tornBytes: second.length - 5 });
    expect(opened.plaintext.toString()).toBe('{"version":2}\n');
  });

  it('refuses altered, reordered or foreign chunks, and data after the last chunk', async () => {
    const id = randomUUID();
    const key = randomBytes(32);
    const magic = Buffer.from('TBREC1\n');
    const c0 = sealChunk(key, id, 0, Buffer.from('a\n'), false);
    const c1 = sealChunk(key, id, 1, Buffer.from('b\n'), true);
    const flipped = Buffer.from(c0);
    flipped[flipped.length - 1]! ^= 1;
    expect(() => openRecording(key, id, Buffer.concat([magic, flipped]))).toThrow(RecordingTamperedError);
    expect(() => openRecording(key, id, Buffer.concat([magic, c1, c0]))).toThrow(RecordingTamperedError);
    expect(() => openRecording(key, randomUUID(), Buffer.concat([magic, c0]))).toThrow(RecordingTamperedError);
    expect(() => openRecording(randomBytes(32), id, Buffer.concat([magic, c0]))).toThrow(RecordingTamperedError);
    expect(() => openRecording(key, id, Buffer.concat([magic, c0, c1, c0]))).toThrow(RecordingTamperedError);
    expect(openRecording(key, id, Buffer.concat([magic, c0, c1]))).toMatchObject({ complete: true, chunks: 2 });
  });

  it('the recorder flushes on its interval, so a crash loses at most the last interval', async () => {
    const { dir, store: s } = await store();
    const id = randomUUID();
    const key = randomBytes(32);
    const rec = createAsciicastRecorder({ sessionId: id, key, sink: await s.create(id), header: { width: 80, height: 24, timestamp: 1 }, recordInput: false, flushMs: 50 });
    rec.output(Buffer.from('before the crash'));
    const file = path.join(dir, `${id}.tbrec`);
    const deadline = Date.now() + 5000;
    let text = '';
    while (!text.includes('before the crash') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      text = openRecording(key, id, await readFile(file)).plaintext.toString();
    }
    expect(text).toContain('before the crash');
    await rec.close();
  });

  it('a fast stream is sealed in 1 MiB steps without waiting for the interval, and opens whole', async () => {
    const { dir, store: s } = await store();
    const id = randomUUID();
    const key = randomBytes(32);
    const rec = createAsciicastRecorder({ sessionId: id, key, sink: await s.create(id), header: { width: 80, height: 24, timestamp: 1 }, recordInput: false, flushMs: 2000 });
    const block = Buffer.from(`${randomBytes(24 * 1024).toString('base64')}\n`);
    const sent: string[] = [];
    while (sent.length * block.length < 5 * CHUNK_BYTES) {
      rec.output(block);
      sent.push(block.toString());
    }
    await rec.drained();
    // Long before the 2 s interval: what a crash now would leave is already on disk.
    const early = openRecording(key, id, await readFile(path.join(dir, `${id}.tbrec`)));
    expect(early.chunks).toBeGreaterThanOrEqual(4);
    expect(early.complete).toBe(false);
    const summary = await rec.close();
    const opened = openRecording(key, id, (await s.read(id))!);
    expect(opened.complete).toBe(true);
    expect(createHash('sha256').update(opened.plaintext).digest('hex')).toBe(summary.sha256);
    const out = events(opened.plaintext.toString('utf8')).slice(1) as [number, string, string][];
    expect(out.map((e) => e[2]).join('')).toBe(sent.join(''));
  });

  it('says it is behind while the disk has not taken 8 MiB, and catches up when it does', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const written: Buffer[] = [];
    const slowDisk: RecordingSink = {
      async append(bytes) {
        await held;
        written.push(...(Buffer.isBuffer(bytes) ? [bytes] : bytes));
      },
      async close() {},
    };
    const id = randomUUID();
    const key = randomBytes(32);
    const rec = createAsciicastRecorder({ sessionId: id, key, sink: slowDisk, header: { width: 80, height: 24, timestamp: 1 }, recordInput: false });
    const block = Buffer.alloc(64 * 1024, 'x');
    let n = 0;
    while (!rec.behind() && n < 1000) {
      rec.output(block);
      n++;
    }
    expect(rec.behind()).toBe(true);
    expect(n * block.length).toBeGreaterThan(7 * CHUNK_BYTES);
    expect(n * block.length).toBeLessThan(10 * CHUNK_BYTES);
    release();
    await rec.drained();
    expect(rec.behind()).toBe(false);
    await rec.close();
    const opened = openRecording(key, id, Buffer.concat(written));
    expect(opened.complete).toBe(true);
    expect(opened.plaintext.toString().split('x').length - 1).toBe(n * block.length);
  });
});
