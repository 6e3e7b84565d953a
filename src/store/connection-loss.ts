/**
 * Tells a connection the database is ending from any other failure, by its SQLSTATE. The store
 * turns such a loss into StoreUnavailableError (core/errors.ts): the request that met it is
 * answered "try again" (503), since the server itself is fine and the store opens a new
 * connection on next use.
 */

// SQLSTATEs of a connection the server failed or is ending: class 08 (connection exception),
// an administrator's or a crash's shutdown, a server still starting.
const ENDING_STATES = new Set(['57P01', '57P02', '57P03']);

/** The server's own word (a DatabaseError carries a severity; other libraries' codes do not). */
export function isConnectionEndingState(err: unknown): boolean {
  if (!(err instanceof Error) || typeof (err as { severity?: unknown }).severity !== 'string') return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (ENDING_STATES.has(code) || code.startsWith('08'));
}
