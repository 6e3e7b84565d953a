/**
 * Writes one session as asciicast v2 (a header line, then `[seconds, code, data]` lines: "o"
 * output, "i" input, "r" resize) into sealed chunks, flushed every `flushMs` (≤ 2 s) while there
 * is something new. The SHA-256 and size are of the plain asciicast text, which is exactly what
 * `timebox sessions export` writes, so an auditor can check an export against the audit event.
 */
import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { RECORDING_MAGIC, sealChunk } from './recording-format.js';
import type { RecordingSink } from './recording-store.js';

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
  let pending: string[] = [];
  let closed = false;
  let summary: Promise<RecordingSummary> | undefined;
  let writing: Promise<void> = Promise.resolve();
  const outDecoder = new StringDecoder('utf8');
  const inDecoder = new StringDecoder('utf8');

  const header = JSON.stringify({ version: 2, ...o.header });
  pending.push(`${header}\n`);

  const at = () => Math.round(now() - started) / 1000;
  const event = (code: 'o' | 'i' | 'r', data: string) => {
    if (closed || data === '') return;
    const line = `${JSON.stringify([at(), code, data])}\n`;
    pending.push(line);
    o.onEvent?.(++seq, line);
  };

  const flush = (last: boolean) => {
    if (pending.length === 0 && !last) return writing;
    const text = Buffer.from(pending.join(''), 'utf8');
    pending = [];
    hash.update(text);
    bytes += text.length;
    const sealed = sealChunk(o.key, o.sessionId, index, text, last);
    const chunk = index++ === 0 ? Buffer.concat([RECORDING_MAGIC, sealed]) : sealed;
    writing = writing.then(() => o.sink.append(chunk));
    writing.catch((err: unknown) => o.onError?.(err));
    return writing;
  };
  const timer = setInterval(() => void flush(false), flushMs);
  timer.unref();

  return {
    output: (data) => event('o', outDecoder.write(data)),
    input: (data) => {
      if (o.recordInput) event('i', inDecoder.write(data));
    },
    resize: (cols, rows) => event('r', `${cols}x${rows}`),
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
