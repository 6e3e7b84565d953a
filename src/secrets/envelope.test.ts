import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSecretBox } from './envelope.js';

const key1 = randomBytes(32);
const key2 = randomBytes(32);
const secret = 'p@ss-wörd-🔑-' + 'x'.repeat(500);
const ctx = 'targets:4f0c2a3e:config';

/** Flips one character of one dot-separated part, keeping the format valid. */
function tamper(value: string, part: number): string {
  const parts = value.split('.');
  const s = parts[part]!;
  parts[part] = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  return parts.join('.');
}

describe('createSecretBox', () => {
  it('round-trips unicode and empty values in a compact versioned string', () => {
    const box = createSecretBox(key1);
    const enc = box.encrypt(secret, ctx);
    expect(enc).toMatch(/^tb1\.k1\.[\w-]+\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(enc).not.toContain('wörd');
    expect(box.decrypt(enc, ctx)).toBe(secret);
    expect(box.decrypt(box.encrypt('', ctx), ctx)).toBe('');
  });

  it('encrypts the same value differently every time', () => {
    const box = createSecretBox(key1);
    const a = box.encrypt(secret, ctx);
    const b = box.encrypt(secret, ctx);
    expect(a).not.toBe(b);
    expect(box.decrypt(a, ctx)).toBe(box.decrypt(b, ctx));
  });

  it('refuses a value moved to another context, without revealing the plaintext', () => {
    const box = createSecretBox(key1);
    const enc = box.encrypt(secret, ctx);
    let error: unknown;
    try {
      box.decrypt(enc, 'targets:other:config');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/cannot decrypt secret/);
    expect((error as Error).message).not.toContain(secret.slice(0, 8));
  });

  it('detects tampering in every part', () => {
    const box = createSecretBox(key1);
    const enc = box.encrypt(secret, ctx);
    for (const part of [2, 3, 4, 5]) {
      expect(() => box.decrypt(tamper(enc, part), ctx)).toThrow(/wrong master key, wrong context, or the stored value was altered/);
    }
    expect(() => box.decrypt(enc.slice(0, -4), ctx)).toThrow(/cannot decrypt secret/);
    expect(() => box.decrypt('plain text', ctx)).toThrow(/not a Timebox tb1 encrypted value/);
  });

  it('fails with a different master key under the same key id', () => {
    const enc = createSecretBox(key1).encrypt(secret, ctx);
    expect(() => createSecretBox(key2).decrypt(enc, ctx)).toThrow(/cannot decrypt secret/);
  });

  it('decrypts values written with an older key after rotation, and writes with the new one', () => {
    const oldEnc = createSecretBox(key1, 'k1').encrypt(secret, ctx);
    const rotated = createSecretBox(key2, 'k2', { k1: key1 });
    expect(rotated.decrypt(oldEnc, ctx)).toBe(secret);
    const newEnc = rotated.encrypt(secret, ctx);
    expect(newEnc.startsWith('tb1.k2.')).toBe(true);
    // Without the old key, the old value names the missing key.
    expect(() => createSecretBox(key2, 'k2').decrypt(oldEnc, ctx)).toThrow(/master key 'k1' is not configured/);
    // Relabelling an old value with the new key id does not work either.
    expect(() => rotated.decrypt(oldEnc.replace('tb1.k1.', 'tb1.k2.'), ctx)).toThrow(/cannot decrypt secret/);
  });

  it('rejects keys of the wrong size and unusable key ids', () => {
    expect(() => createSecretBox(randomBytes(16))).toThrow(/exactly 32 bytes/);
    expect(() => createSecretBox(key1, 'a.b')).toThrow(/master key id/);
    expect(() => createSecretBox(key1, 'k2', { k1: randomBytes(31) })).toThrow(/'k1' must be exactly 32 bytes/);
  });
});
