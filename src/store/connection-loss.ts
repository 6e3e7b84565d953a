/**
 * A lost or refused database connection becomes one error the rest of the server knows: the
 * request that met it is answered "try again" (503) rather than "internal error" (500), since
 * the server itself is fine and the store opens a new connection on next use.
 */
import { StoreUnavailableError } from '../core/errors.js';

// SQLSTATEs of a connection the server failed or is ending: class 08 (connection exception),
// an administrator's or a crash's shutdown, a server still starting.
const ENDING_STATES = new Set(['57P01', '57P02', '57P03']);

/** The server's own word (a DatabaseError carries a severity; other libraries' codes do not). */
export function isConnectionEndingState(err: unknown): boolean {
  if (!(err instanceof Error) || typeof (err as { severity?: unknown }).severity !== 'string') return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (ENDING_STATES.has(code) || code.startsWith('08'));
}

export const storeUnavailable = (cause: unknown) => new StoreUnavailableError(cause);
