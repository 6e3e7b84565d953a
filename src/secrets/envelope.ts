/**
 * Envelope encryption for small secrets (target configs, generated passwords).
 *
 * Each value gets a fresh random 256-bit data key; the data key encrypts the value and the master
 * key wraps the data key, both with AES-256-GCM. The caller's `context` (e.g. "targets:<id>:config")
 * is bound as AAD on both layers, so a ciphertext copied into another row does not decrypt.
 *
 * Format (all parts base64url, no padding):
 *   tb1.<keyId>.<wrap iv|wrapped data key|wrap tag>.<iv>.<ciphertext>.<tag>
 * The keyId names the master key that wrapped the data key, so older keys can still decrypt after
 * a rotation while new values are always written with the current key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretBox } from './types.js';

const VERSION = 'tb1';
const KEY_BYTES = 32;
const IV_BYTES = 12; // the GCM standard nonce size
const TAG_BYTES = 16;
const WRAPPED_BYTES = IV_BYTES + KEY_BYTES + TAG_BYTES;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/; // no dots: the dot separates the parts

// Deliberately vague: which check failed (key, context, data) is no help to a legitimate user
// and some help to an attacker. Never include plaintext, keys or the context value.
const FAILED = 'cannot decrypt secret: wrong master key, wrong context, or the stored value was altered';

export function createSecretBox(masterKey: Buffer, keyId = 'k1', older: Record<string, Buffer> = {}): SecretBox {
  checkKey(masterKey, keyId);
  // Copies, so a caller zeroing or reusing its buffer cannot change our keys.
  const keys = new Map<string, Buffer>([[keyId, Buffer.from(masterKey)]]);
  for (const [id, key] of Object.entries(older)) {
    if (id === keyId) throw new Error(`master key id '${id}' is given both as current and as older key`);
    checkKey(key, id);
    keys.set(id, Buffer.from(key));
  }
  const current = keys.get(keyId)!;

  return {
    encrypt(plaintext: string, context: string): string {
      const dataKey = randomBytes(KEY_BYTES);
      try {
        const wrapped = seal(current, dataKey, wrapAad(keyId, context));
        const { iv, ciphertext, tag } = sealParts(dataKey, Buffer.from(plaintext, 'utf8'), dataAad(context));
        return [VERSION, keyId, b64(wrapped), b64(iv), b64(ciphertext), b64(tag)].join('.');
      } finally {
        dataKey.fill(0);
      }
    },

    decrypt(value: string, context: string): string {
      const parts = value.split('.');
      if (parts.length !== 6 || parts[0] !== VERSION) {
        throw new Error(`cannot decrypt secret: not a Timebox ${VERSION} encrypted value`);
      }
      const [, id, wrappedB64, ivB64, ctB64, tagB64] = parts as [string, string, string, string, string, string];
      const key = keys.get(id);
      if (!key) throw new Error(`cannot decrypt secret: master key '${id}' is not configured`);
      const wrapped = unb64(wrappedB64);
      const iv = unb64(ivB64);
      const tag = unb64(tagB64);
      if (wrapped.length !== WRAPPED_BYTES || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
        throw new Error(FAILED);
      }
      let dataKey: Buffer | undefined;
      try {
        dataKey = open(key, wrapped, wrapAad(id, context));
        return openParts(dataKey, iv, unb64(ctB64), tag, dataAad(context)).toString('utf8');
      } catch {
        // The crypto error says only "Unsupported state or unable to authenticate data".
        throw new Error(FAILED);
      } finally {
        dataKey?.fill(0);
      }
    },
  };
}

function checkKey(key: Buffer, id: string): void {
  if (!KEY_ID.test(id)) throw new Error(`master key id '${id}' must be 1-64 letters, digits, '-' or '_'`);
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new Error(`master key '${id}' must be exactly ${KEY_BYTES} bytes`);
  }
}

// Distinct prefixes per layer so a wrapped key can never be mistaken for a data ciphertext.
// The key id is bound too, so relabelling a value with another key id fails authentication.
const wrapAad = (keyId: string, context: string) => Buffer.from(`${VERSION}/wrap/${keyId}\0${context}`, 'utf8');
const dataAad = (context: string) => Buffer.from(`${VERSION}/data\0${context}`, 'utf8');

function sealParts(key: Buffer, plaintext: Buffer, aad: Buffer) {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

function openParts(key: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/** iv | ciphertext | tag in one buffer: the wrapped data key is one part of the string. */
function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const { iv, ciphertext, tag } = sealParts(key, plaintext, aad);
  return Buffer.concat([iv, ciphertext, tag]);
}

function open(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  return openParts(key, iv, sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES), tag, aad);
}

const b64 = (b: Buffer) => b.toString('base64url');

function unb64(s: string): Buffer {
  // Buffer.from ignores invalid characters; reject them so a mangled value fails loudly.
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error(FAILED);
  return Buffer.from(s, 'base64url');
}
