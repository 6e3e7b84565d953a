/**
 * SCRAM-SHA-256 verifier computed here, so `ALTER ROLE … PASSWORD` carries the verifier and the
 * plaintext never reaches the server (nor its statement logs, pg_stat_statements, or errors).
 * Format as PostgreSQL stores it: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

export const SCRAM_ITERATIONS = 4096;

export interface ScramOptions {
  /** Fixed salt for tests that compare with a verifier made by PostgreSQL itself. */
  salt?: Buffer;
  iterations?: number;
}

/**
 * Only printable ASCII: SASLprep (RFC 4013), which servers and clients apply to the password,
 * is the identity on it, so every client computes the same key. Generated passwords comply.
 */
function assertPrintableAscii(password: string) {
  if (!/^[\x20-\x7e]+$/.test(password)) {
    throw new Error('SCRAM verifier: password must be non-empty printable ASCII');
  }
}

/**
 * Asynchronous PBKDF2 (libuv thread pool) rather than pbkdf2Sync: the hash is most of the cost of a
 * grant (~3 ms), and a mass revocation must not block the event loop for the API.
 */
export async function scramSha256Verifier(password: string, opts: ScramOptions = {}): Promise<string> {
  assertPrintableAscii(password);
  const salt = opts.salt ?? randomBytes(16);
  const iterations = opts.iterations ?? SCRAM_ITERATIONS;
  const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
