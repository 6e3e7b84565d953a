/**
 * Random material: API/session tokens and token hashing; JIT account passwords come from core.
 */
import { createHash, randomBytes } from 'node:crypto';

export { generatePassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, PASSWORD_SYMBOLS } from '../core/password.js';

/** An opaque bearer token: `bytes` of randomness, base64url (URL, header and cookie safe). */
export function generateToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 16) throw new RangeError('a token needs at least 16 random bytes');
  return randomBytes(bytes).toString('base64url');
}

/** Hex SHA-256 of a UTF-8 string: how tokens are stored (high-entropy input, so no salt needed). */
export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}
