/**
 * Calls that a policy may guard with an authenticator code (request, approve, deny, reveal):
 * `--totp CODE` is sent as given; without it the call is tried bare, and when the server answers
 * that a code is needed (details.mfa = 'required') the person is asked on the terminal, or told
 * which flag to add when there is none.
 */
import { InvalidArgumentError } from 'commander';
import { ApiError } from './api-client.js';
import { CliError, ExitCode } from './exit-codes.js';
import { promptHidden } from './prompt.js';

/** `--totp` parser: six digits, checked before anything is sent. */
export function totpArg(value: string): string {
  const code = value.trim();
  if (!/^\d{6}$/.test(code)) throw new InvalidArgumentError('expected the 6-digit code from your authenticator app');
  return code;
}

export const needsCode = (err: unknown): boolean => err instanceof ApiError && (err.details as { mfa?: unknown } | undefined)?.mfa === 'required';

export async function withTotp<T>(given: string | undefined, call: (totp: string | undefined) => Promise<T>, flag = '--totp CODE'): Promise<T> {
  try {
    return await call(given);
  } catch (err) {
    if (given !== undefined || !needsCode(err)) throw err;
    if (!process.stdin.isTTY) {
      throw new CliError(`this policy asks for the 6-digit code from your authenticator app: add ${flag}`, ExitCode.auth);
    }
    return call(totpArg(await promptHidden('Code from your authenticator app: ')));
  }
}
