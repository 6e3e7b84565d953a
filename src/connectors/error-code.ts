/**
 * The driver's error code (`42501`, `ER_ACCESS_DENIED_ERROR`, `ECONNREFUSED`...) of a failure, for
 * connectors that map codes to error classes. Node's happy-eyeballs connect reports an
 * AggregateError of per-address failures: the first one speaks for it.
 */
export function errorCodeOf(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) return errorCodeOf(err.errors[0]);
  return undefined;
}
