/**
 * The frames a gateway publishes about a watched session, as text payloads of a NOTIFY (8000
 * bytes at most, so an event line is split into base64 parts):
 * - `S <token> <seq>`: the recording file now holds events 1..seq; every later one is published.
 * - `E <seq> <part>/<parts> <base64>`: part of the asciicast line of event `seq`.
 * - `X <seq>`: the session ended; its recording is closed with `seq` events.
 * Pure: building and reading frames, and putting split lines back together.
 */

/** Raw bytes per part: 5000 bytes are 6668 base64 characters, well under the payload limit. */
const PART_BYTES = 5000;

export type Frame = { kind: 'sync'; token: string; seq: number } | { kind: 'event'; seq: number; line: string } | { kind: 'end'; seq: number };

export const syncFrame = (token: string, seq: number): string => `S ${token} ${seq}`;
export const endFrame = (seq: number): string => `X ${seq}`;

export function eventFrames(seq: number, line: string): string[] {
  const bytes = Buffer.from(line, 'utf8');
  const parts = Math.max(1, Math.ceil(bytes.length / PART_BYTES));
  const frames: string[] = [];
  for (let i = 0; i < parts; i++) {
    frames.push(`E ${seq} ${i + 1}/${parts} ${bytes.subarray(i * PART_BYTES, (i + 1) * PART_BYTES).toString('base64')}`);
  }
  return frames;
}

const TOKEN = /^[0-9a-f-]{36}$/;
const INT = /^\d{1,12}$/;

/** Reads frames in publication order; event parts are joined; anything malformed is skipped. */
export function createFrameReader() {
  let partial: { seq: number; parts: number; chunks: Buffer[] } | null = null;
  return (payload: string): Frame | null => {
    const [kind, a, b, c] = payload.split(' ');
    if (kind === 'S' && a && TOKEN.test(a) && b && INT.test(b)) return { kind: 'sync', token: a, seq: Number(b) };
    if (kind === 'X' && a && INT.test(a)) return { kind: 'end', seq: Number(a) };
    if (kind !== 'E' || !a || !INT.test(a) || !b || c === undefined) return null;
    const seq = Number(a);
    const [i, n] = b.split('/').map(Number);
    if (!i || !n || i > n) return null;
    if (i === 1) partial = { seq, parts: n, chunks: [] };
    if (!partial || partial.seq !== seq || partial.parts !== n || partial.chunks.length !== i - 1) {
      partial = null;
      return null;
    }
    partial.chunks.push(Buffer.from(c, 'base64'));
    if (i < n) return null;
    const line = Buffer.concat(partial.chunks).toString('utf8');
    partial = null;
    return { kind: 'event', seq, line };
  };
}
