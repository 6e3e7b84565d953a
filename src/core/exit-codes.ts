/**
 * Exit codes of the `timebox` and `timebox-agent` commands, so scripts can tell failures apart.
 * Also shown in `timebox --help`. In core because both programs use them and the agent loads
 * nothing of the CLI or the server.
 */
export const ExitCode = {
  /** Done. */
  ok: 0,
  /** Something failed, or a check found problems (audit verify, targets check, a failed activation). */
  failure: 1,
  /** Usage error: unknown command or flag, a bad value (duration, date, JSON), or a request the server rejected as invalid (400). */
  usage: 2,
  /** Not signed in, session expired, wrong password or authenticator code, or not allowed (401/403). */
  auth: 3,
  /** Not found, whatever was not found: grant, target, member, group, token, tenant, approval (404). */
  notFound: 4,
  /** Refused by policy or in conflict with the current state (409/422). */
  refused: 5,
  /** The server or a target could not be reached (network error, timeout, 502/503/504). */
  unreachable: 6,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const exitCodesHelp = [
  'Exit codes:',
  '  0  ok',
  '  1  failure, or problems found (audit verify, targets check)',
  '  2  usage error: bad flags or values (e.g. a bad duration), or the server rejected the request as invalid',
  '  3  not signed in, wrong password, an authenticator code needed or wrong, or not allowed (HTTP 401/403)',
  '  4  not found, whatever was not found: target, grant, member, group, tenant (HTTP 404)',
  '  5  refused by policy or conflict (HTTP 409/422)',
  '  6  server or target unreachable (network error, HTTP 502/503/504)',
].join('\n');

/** An error meant for the person at the terminal: printed as `timebox: <message>`, no stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** How an HTTP error status maps to an exit code. */
export function exitCodeForStatus(status: number): ExitCodeValue {
  if (status === 400) return ExitCode.usage;
  if (status === 401 || status === 403) return ExitCode.auth;
  if (status === 404) return ExitCode.notFound;
  if (status === 409 || status === 422) return ExitCode.refused;
  if (status === 502 || status === 503 || status === 504) return ExitCode.unreachable;
  return ExitCode.failure;
}
