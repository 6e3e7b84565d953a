/**
 * What a tenant may be told about a failed outbound connection: a class, never the remote side's
 * bytes (a banner or an error page of an internal service would otherwise be read back through
 * Timebox). Operators find the full error in the server log.
 */
export const FAILURE_CLASSES = [
  'address not allowed',
  'name not found',
  'connection refused',
  'host unreachable',
  'connection reset',
  'timed out',
  'TLS failed',
  'authentication failed',
  'protocol error',
  'connection failed',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

function codeOf(err: unknown): string {
  if (!err || typeof err !== 'object') return '';
  const e = err as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown[] };
  if (typeof e.code === 'string' && e.code) return e.code;
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'ETIMEDOUT';
  if (e.name === 'OutboundRefused') return 'EOUTBOUND';
  if (e.cause) return codeOf(e.cause);
  // Node's happy-eyeballs connect reports an AggregateError of per-address failures.
  if (Array.isArray(e.errors) && e.errors.length) return codeOf(e.errors[0]);
  return '';
}

export function failureClass(err: unknown): FailureClass {
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : '';
  if (code === 'EOUTBOUND') return 'address not allowed';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EDNS') return 'name not found';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection reset';
  if (code === 'ETIMEDOUT' || code === 'ETIMEOUT' || code === 'ESOCKETTIMEDOUT' || /timeout|timed out/i.test(message)) return 'timed out';
  if (code === 'ETLS' || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code) || /certificate|TLS|SSL/i.test(message)) {
    return 'TLS failed';
  }
  if (code === 'EAUTH') return 'authentication failed';
  if (code === 'EPROTOCOL' || code === 'EENVELOPE' || code === 'EMESSAGE') return 'protocol error';
  return 'connection failed';
}
