/**
 * The encrypted recording file: a magic line, then chunks sealed one by one with AES-256-GCM under
 * the recording's own random key (kept wrapped by the secret box in the session row). Each chunk
 * holds whole asciicast lines, so the chunks that can be read always form a playable file: a
 * gateway killed mid-session loses at most the chunk it was writing.
 *
 * Chunk: u32 length of the sealed body (ciphertext + tag), u8 flags (1: last chunk), 12-byte
 * nonce (zeros + the chunk's u64 index), body. The AAD binds the session id, the index and the
 * flags: chunks cannot be reordered, moved to another recording, or a cut file passed as closed.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

export const RECORDING_MAGIC = Buffer.from('TBREC1\n', 'latin1');
const TAG = 16;
const NONCE = 12;
const HEAD = 4 + 1 + NONCE;
const FINAL = 1;
/** A chunk larger than this is not something this code wrote. */
const MAX_BODY = 64 << 20;

function nonceOf(index: number): Buffer {
  const n = Buffer.alloc(NONCE);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function aadOf(sessionId: string, index: number, flags: number): Buffer {
  const tail = Buffer.alloc(9);
  tail.writeBigUInt64BE(BigInt(index), 0);
  tail.writeUInt8(flags, 8);
  return Buffer.concat([RECORDING_MAGIC, Buffer.from(sessionId, 'utf8'), tail]);
}

/**
 * Seals one chunk whose plaintext is the concatenation of `parts`, as the pieces to write in order
 * (header, ciphertexts, tag): a chunk of many events is never copied into one buffer first.
 * `index` counts from 0 within the recording.
 */
export function sealChunkParts(key: Buffer, sessionId: string, index: number, parts: readonly Buffer[], last: boolean): Buffer[] {
  const flags = last ? FINAL : 0;
  const nonce = nonceOf(index);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aadOf(sessionId, index, flags));
  // GCM is a stream mode: the ciphertext is exactly as long as the plaintext.
  let length = TAG;
  const out: Buffer[] = [Buffer.alloc(HEAD)];
  for (const part of parts) {
    length += part.length;
    out.push(cipher.update(part));
  }
  cipher.final();
  out.push(cipher.getAuthTag());
  const head = out[0]!;
  head.writeUInt32BE(length, 0);
  head.writeUInt8(flags, 4);
  nonce.copy(head, 5);
  return out;
}

/** Seals one chunk into one buffer. */
export function sealChunk(key: Buffer, sessionId: string, index: number, plaintext: Buffer, last: boolean): Buffer {
  return Buffer.concat(sealChunkParts(key, sessionId, index, [plaintext], last));
}

export interface OpenedRecording {
  /** The asciicast text of every whole chunk, in order. */
  plaintext: Buffer;
  /** The last chunk was written: the session ended cleanly. */
  complete: boolean;
  chunks: number;
  /** Bytes at the end that did not form a whole chunk (a write cut by a crash). */
  tornBytes: number;
}

export class RecordingTamperedError extends Error {}

/** Opens a whole file. A torn tail is dropped; a chunk that fails authentication is an error. */
export function openRecording(key: Buffer, sessionId: string, file: Buffer): OpenedRecording {
  if (file.length < RECORDING_MAGIC.length || !file.subarray(0, RECORDING_MAGIC.length).equals(RECORDING_MAGIC)) {
    if (file.length < RECORDING_MAGIC.length && RECORDING_MAGIC.subarray(0, file.length).equals(file)) {
      return { plaintext: Buffer.alloc(0), complete: false, chunks: 0, tornBytes: file.length };
    }
    throw new RecordingTamperedError('not a Timebox recording');
  }
  const parts: Buffer[] = [];
  let at = RECORDING_MAGIC.length;
  let index = 0;
  let complete = false;
  while (at < file.length) {
    if (complete) throw new RecordingTamperedError('data after the last chunk');
    if (file.length - at < HEAD) break;
    const len = file.readUInt32BE(at);
    const flags = file.readUInt8(at + 4);
    const nonce = file.subarray(at + 5, at + HEAD);
    if (len < TAG || len > MAX_BODY || (flags & ~FINAL) !== 0 || !nonce.equals(nonceOf(index))) {
      throw new RecordingTamperedError(`chunk ${index} has a malformed header`);
    }
    if (file.length - at - HEAD < len) break;
    const body = file.subarray(at + HEAD, at + HEAD + len);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(aadOf(sessionId, index, flags));
    decipher.setAuthTag(body.subarray(len - TAG));
    try {
      parts.push(Buffer.concat([decipher.update(body.subarray(0, len - TAG)), decipher.final()]));
    } catch {
      throw new RecordingTamperedError(`chunk ${index} does not decrypt: wrong key, or the file was altered`);
    }
    complete = (flags & FINAL) !== 0;
    at += HEAD + len;
    index++;
  }
  return { plaintext: Buffer.concat(parts), complete, chunks: index, tornBytes: file.length - at };
}
