/**
 * Operator password hashing: argon2id with @node-rs/argon2's defaults (19 MiB, 2 passes, the
 * OWASP baseline). Its `Algorithm` const enum is not imported (verbatimModuleSyntax rejects it);
 * argon2id is already the default.
 */
import { hash, verify } from '@node-rs/argon2';
import { generateToken } from '../secrets/password.js';

/** Longer inputs are refused before hashing so nobody can make the server hash megabytes. */
import { MAX_PASSWORD_INPUT } from '../api/fields.js';

export { MAX_PASSWORD_INPUT };

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/** False for a wrong password and for a stored hash that cannot be parsed (never throws). */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  if (password.length > MAX_PASSWORD_INPUT) return false;
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}

// Hash of a random secret with the same parameters as real hashes, made once on first use.
let dummyHash: Promise<string> | undefined;

/** Compute it ahead of the first login (server start) so that login is not slower than the rest. */
export function warmDummyHash(): Promise<string> {
  dummyHash ??= hash(generateToken(32));
  return dummyHash;
}

/**
 * Verifies against the stored hash, or (unknown email, no password set) against a dummy hash,
 * so the time a login takes does not reveal whether the email exists.
 */
export async function verifyPasswordOrDummy(storedHash: string | null | undefined, password: string): Promise<boolean> {
  if (!storedHash || password.length > MAX_PASSWORD_INPUT) {
    await verifyPassword(await warmDummyHash(), password.slice(0, MAX_PASSWORD_INPUT));
    return false;
  }
  return verifyPassword(storedHash, password);
}
