/**
 * mysql2 and network failures → TargetError classes, which decide the retry policy: transient is
 * retried quickly, the others need a person, with a message that says what to fix.
 */
import { TargetError, invalid, permanent, transient } from '../../core/errors.js';
import { errorCodeOf } from '../error-code.js';

const TRANSIENT = new Set([
  'ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_DEADLOCK', 'ER_CON_COUNT_ERROR', 'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_SERVER_SHUTDOWN', 'ER_QUERY_INTERRUPTED', 'ER_STATEMENT_TIMEOUT',
]);
const PRIVILEGE = new Set([
  'ER_SPECIFIC_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_TABLEACCESS_DENIED_ERROR',
  'ER_KILL_DENIED_ERROR', 'ER_COLUMNACCESS_DENIED_ERROR', 'ER_PROCACCESS_DENIED_ERROR',
]);


function privilegeHint(message: string): string {
  if (/kill|thread/i.test(message)) return ' (it needs CONNECTION ADMIN, or SUPER, to end sessions)';
  if (/event/i.test(message)) return ' (it needs EVENT on the Timebox schema)';
  if (/create user/i.test(message)) return ' (it needs CREATE USER)';
  if (/role|admin/i.test(message)) return ' (it needs each entitlement role WITH ADMIN OPTION)';
  return '';
}

export function toTargetError(err: unknown, where: string): TargetError {
  if (err instanceof TargetError) return err;
  const code = errorCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const sqlState = (err as { sqlState?: unknown })?.sqlState;
  if (code === 'EOUTBOUND' || (err as Error)?.name === 'OutboundRefused') return permanent(`MariaDB at ${where}: ${message}`, err);
  if (code && TRANSIENT.has(code)) return transient(`MariaDB at ${where} failed temporarily (${code}): ${message}`, err);
  if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_ACCOUNT_HAS_BEEN_LOCKED') {
    return permanent(`MariaDB at ${where}: authentication failed for the service account (${message})`, err);
  }
  if (code && PRIVILEGE.has(code)) {
    return permanent(`MariaDB at ${where}: the service account lacks a privilege: ${message}${privilegeHint(message)}`, err);
  }
  if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_DB_ERROR') {
    return permanent(`MariaDB at ${where}: ${message} (create the Timebox schema and table: see the target's setup SQL)`, err);
  }
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT' || /does not support secure connection/i.test(message)) {
    return permanent(`MariaDB at ${where} does not accept TLS connections; enable ssl on the server or set ssl to 'disable'`, err);
  }
  if (/certificate|self[- ]signed|altnames|CERT_/i.test(`${code ?? ''} ${message}`)) {
    return permanent(`MariaDB at ${where}: TLS certificate not trusted: ${message}`, err);
  }
  if (code === 'ER_CANNOT_USER') return invalid(`MariaDB at ${where}: ${message}`, err);
  // Any other SQL error is a bug or a server setting a person must look at; retrying won't help.
  if (typeof sqlState === 'string') return permanent(`MariaDB at ${where} (${code ?? sqlState}): ${message}`, err);
  // No SQL state: timeouts and dropped connections inside the driver.
  return transient(`MariaDB at ${where}: ${message}`, err);
}
