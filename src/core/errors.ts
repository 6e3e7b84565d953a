/**
 * Errors that cross layers. Target errors carry a class that decides the retry policy;
 * application errors carry an HTTP status and a message meant for a person.
 */

/** How the scheduler should react to a failed target call. */
export type TargetErrorClass = 'transient' | 'permanent' | 'unsupported' | 'invalid';

/**
 * A grant the target refused before changing anything (checked first, touched nothing): the
 * grant ends as 'failed', with nothing to clean up.
 */
export type TargetRefusal = 'account_foreign' | 'account_replaced' | 'name_invalid' | 'entitlement_missing' | 'entitlement_unfit';

export class TargetError extends Error {
  /** Set only on refusals that left the target unchanged. */
  readonly refusal: TargetRefusal | undefined;
  constructor(
    readonly errorClass: TargetErrorClass,
    message: string,
    options?: { cause?: unknown; refusal?: TargetRefusal },
  ) {
    super(message, options);
    this.name = 'TargetError';
    this.refusal = options?.refusal;
  }

  /** Only transient failures are worth retrying quickly; the rest need a person. */
  get retryable(): boolean {
    return this.errorClass === 'transient';
  }
}

export const transient = (message: string, cause?: unknown) => new TargetError('transient', message, { cause });
export const permanent = (message: string, cause?: unknown) => new TargetError('permanent', message, { cause });
export const unsupported = (message: string, cause?: unknown) => new TargetError('unsupported', message, { cause });
export const invalid = (message: string, cause?: unknown) => new TargetError('invalid', message, { cause });
/** The target refused before anything was changed on it (see TargetRefusal). */
export const refused = (refusal: TargetRefusal, message: string, cause?: unknown) =>
  new TargetError('invalid', message, { cause, refusal });

export type AppErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'policy_violation'
  | 'rate_limited'
  /** A body over a route's own size limit (413). */
  | 'payload_too_large'
  /** A body in a form or charset the route does not take (415). */
  | 'unsupported_media_type'
  | 'target_error'
  /** A target's connection test failed and the admin did not ask to save it anyway (422, details.check). */
  | 'target_check_failed'
  /** A password someone else set must be changed before anything else (403). */
  | 'password_change_required';

const statusOf: Record<AppErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  policy_violation: 422,
  rate_limited: 429,
  payload_too_large: 413,
  unsupported_media_type: 415,
  target_error: 502,
  target_check_failed: 422,
  password_change_required: 403,
};

/** An error whose message is safe and useful to show to the person who caused it. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = statusOf[code];
  }
}

/** A server setting (environment, or a file it names) that cannot work: the start stops before anything is created. */
export class SettingsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SettingsError';
  }
}

/**
 * The store's database could not be reached or ended the connection (a restart, a failover): the
 * request is worth trying again (503). Not an AppError, whose catchers read it as a refusal of
 * what was asked; a moment's outage must not become one.
 */
export class StoreUnavailableError extends Error {
  readonly status = 503;
  readonly code = 'store_unavailable';
  constructor(cause: unknown) {
    super('the database cannot be reached at the moment; try again', { cause });
    this.name = 'StoreUnavailableError';
  }
}

export const badRequest = (message: string, details?: unknown) => new AppError('bad_request', message, details);
export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const forbidden = (message: string) => new AppError('forbidden', message);
export const conflict = (message: string, details?: unknown) => new AppError('conflict', message, details);
export const policyViolation = (message: string, details?: unknown) =>
  new AppError('policy_violation', message, details);

/** Classify anything thrown by a connector; unknown errors are presumed transient (network, timeouts). */
export function classifyTargetError(err: unknown): TargetError {
  if (err instanceof TargetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TargetError('transient', message, { cause: err });
}
