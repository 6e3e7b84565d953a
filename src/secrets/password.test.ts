import { describe, expect, it } from 'vitest';
import { generatePassword, generateToken, PASSWORD_SYMBOLS, sha256Hex } from './password.js';

const FORBIDDEN = /['"`\\\s$!&|;<>()*?#%@:/,{}[\]]/;

describe('generatePassword', () => {
  it('always has every character class, only safe characters, and the asked length', () => {
    for (let i = 0; i < 2000; i++) {
      const length = 8 + (i % 40);
      const pw = generatePassword(length);
      expect(pw).toHaveLength(length);
      expect(pw).toMatch(/[a-z]/);
      expect(pw).toMatch(/[A-Z]/);
      expect(pw).toMatch(/[0-9]/);
      expect([...pw].some((c) => PASSWORD_SYMBOLS.includes(c))).toBe(true);
      expect(pw).not.toMatch(FORBIDDEN);
      expect(pw).toMatch(/^[A-Za-z0-9][A-Za-z0-9\-_.~+=]+$/);
    }
    expect(generatePassword()).toHaveLength(24);
  });

  it('uses the whole alphabet roughly evenly and never repeats', () => {
    const counts = new Map<string, number>();
    const seen = new Set<string>();
    for (let i = 0; i < 6000; i++) {
      const pw = generatePassword(32);
      seen.add(pw);
      for (const c of pw.slice(1)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(seen.size).toBe(6000);
    expect(counts.size).toBe(26 + 26 + 10 + PASSWORD_SYMBOLS.length);
    const values = [...counts.values()];
    // ~2700 expected per character; modulo bias (byte % 68) would give a ratio of 0.75.
    expect(Math.min(...values) / Math.max(...values)).toBeGreaterThan(0.8);
  });

  it('refuses lengths too short to be safe', () => {
    expect(() => generatePassword(4)).toThrow(RangeError);
    expect(() => generatePassword(10.5)).toThrow(RangeError);
  });
});

describe('generateToken / sha256Hex', () => {
  it('makes url-safe random tokens and stable hashes', () => {
    const t = generateToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateToken()).not.toBe(t);
    expect(Buffer.from(generateToken(48), 'base64url')).toHaveLength(48);
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
