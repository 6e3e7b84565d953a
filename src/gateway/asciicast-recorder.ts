/**
 * Writes one session as asciicast v2 (a header line, then `[seconds, code, data]` lines: "o"
 * output, "i" input, "r" resize) into sealed chunks, flushed every `flushMs` (≤ 2 s) while there
 * is something new, and as soon as `CHUNK_BYTES` are pending: a fast stream (`cat` of a large
 * file) is sealed and written in steady 1 MiB steps instead of one pause per interval holding a
 * second's worth of output in memory. Each event line is encoded and hashed once, as it happens. The SHA-256 and size are of the plain asciicast text, which is exactly what
 * `timebox sessions export` writes, so an auditor can check an export against the audit event.
 */
import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { RECORDING_MAGIC, sealChunkParts } from './recording-format.js';
import type { RecordingSink } from './recording-store.js';

/** Pending plaintext that is sealed and written without waiting for the interval. */
export const CHUNK_BYTES = 1 << 20;
/** Sealed bytes waiting for the disk beyond which the session is paused (see `behind`). */
const MAX_UNWRITTEN = 8 * CHUNK_BYTES;

export interface AsciicastHeader {
  width: number;
  height: number;
  /** Unix seconds of the start. */
  timestamp: number;
  title?: string;
  env?: Record<string, string>;
  command?: string;
}

export interface RecorderOptions {
  sessionId: string;
  key: Buffer;
  sink: RecordingSink;
  header: AsciicastHeader;
  recordInput: boolean;
  /** At most 2000 ms: what a crash may lose. */
  flushMs?: number;
  /** Monotonic milliseconds (performance.now by default). */
  now?: () => number;
  onError?: (err: unknown) => void;
  /** Each event line as it is recorded, numbered from 1 in file order (the live view's feed). */
  onEvent?: (seq: number, line: string) => void;
}

export interface RecordingSummary {
  sha256: string;
  bytes: number;
}

export interface Recorder {
  output(data: Buffer): void;
  input(data: Buffer): void;
  resize(cols: number, rows: number): void;
  /**
   * More sealed output is waiting for the disk than the recorder holds: the relay pauses the host
   * until `drained` resolves, so a slow disk slows the session instead of filling memory.
   */
  behind(): boolean;
  /** Resolves once everything sealed so far is written (or its write failed). */
  drained(): Promise<void>;
  /** Milliseconds since the start, as the recording counts them. */
  elapsedMs(): number;
  /** Writes what is pending now; resolves with the number of events the file then holds. */
  flushNow(): Promise<number>;
  /** Writes what is pending and the last chunk. */
  close(): Promise<RecordingSummary>;
}

export function createAsciicastRecorder(o: RecorderOptions): Recorder {
  const flushMs = Math.min(o.flushMs ?? 1000, 2000);
  const now = o.now ?? (() => performance.now());
  const started = now();
  const hash = createHash('sha256');
  let bytes = 0;
  let index = 0;
  let seq = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let unwritten = 0;
  let closed = false;
  let summary: Promise<RecordingSummary> | undefined;
  let writing: Promise<void> = Promise.resolve();
  const outDecoder = new StringDecoder('utf8');
  const inDecoder = new StringDecoder('utf8');

  const flush = (last: boolean) => {
    if (pending.length === 0 && !last) return writing;
    const parts = sealChunkParts(o.key, o.sessionId, index, pending, last);
    if (index++ === 0) parts.unshift(RECORDING_MAGIC);
    const size = pendingBytes;
    pending = [];
    pendingBytes = 0;
    unwritten += size;
    writing = writing.then(() => o.sink.append(parts)).finally(() => {
      unwritten -= size;
    });
    writing.catch((err: unknown) => o.onError?.(err));
    return writing;
  };
  const add = (line: string) => {
    const text = Buffer.from(line, 'utf8');
    hash.update(text);
    bytes += text.length;
    pending.push(text);
    pendingBytes += text.length;
    if (pendingBytes >= CHUNK_BYTES) void flush(false);
  };

  add(`${JSON.stringify({ version: 2, ...o.header })}\n`);

  const at = () => Math.round(now() - started) / 1000;
  const event = (code: 'o' | 'i' | 'r', data: string) => {
    if (closed || data === '') return;
    const line = `${JSON.stringify([at(), code, data])}\n`;
    add(line);
    o.onEvent?.(++seq, line);
  };

  const timer = setInterval(() => void flush(false), flushMs);
  timer.unref();

  return {
    output: (data) => event('o', outDecoder.write(data)),
    input: (data) => {
      if (o.recordInput) event('i', inDecoder.write(data));
    },
    resize: (cols, rows) => event('r', `${cols}x${rows}`),
    behind: () => unwritten > MAX_UNWRITTEN,
    drained: () => writing.then(
      () => undefined,
      () => undefined,
    ),
    elapsedMs: () => Math.round(now() - started),
    flushNow() {
      const through = seq;
      return closed ? summary!.then(() => through) : flush(false).then(() => through);
    },
    close() {
      summary ??= (async () => {
        event('o', outDecoder.end());
        if (o.recordInput) event('i', inDecoder.end());
        closed = true;
        clearInterval(timer);
        await flush(true);
        await o.sink.close();
        return { sha256: hash.digest('hex'), bytes };
      })();
      return summary;
    },
  };
}
