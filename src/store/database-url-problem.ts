/**
 * Why the PostgreSQL store could not be opened at start, in words a person can act on, when the
 * cause is the setting or the server it names (not there, not listening, refusing the login, no
 * such database). Undefined for anything else, which stays the error it is. The password in the
 * URL is never repeated.
 */
import { SettingsError } from '../core/errors.js';

const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'nothing listens there (is PostgreSQL running, on that port?)',
  ENOTFOUND: 'that host name does not resolve',
  EAI_AGAIN: 'that host name could not be resolved just now',
  ETIMEDOUT: 'it did not answer in time',
  EHOSTUNREACH: 'that host cannot be reached',
  ECONNRESET: 'it closed the connection',
};
const SERVER: Record<string, string> = {
  '28P01': 'it refused the user name or password',
  '28000': 'it refused this login (pg_hba.conf)',
  '3D000': 'that database does not exist (create it first: createdb)',
};

export function databaseUrlProblem(databaseUrl: string, err: unknown): SettingsError | undefined {
  const code = String((err as { code?: unknown })?.code ?? '');
  const why = NETWORK[code] ?? SERVER[code];
  if (!why) return undefined;
  let where = 'the database in DATABASE_URL';
  try {
    const u = new URL(databaseUrl);
    where = `DATABASE_URL (${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname.length > 1 ? u.pathname : ''})`;
  } catch {
    // unreadable URLs are refused by the settings check before this
  }
  return new SettingsError(`cannot open the store at ${where}: ${why}`, { cause: err });
}
