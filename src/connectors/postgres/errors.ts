/**
 * node-postgres and network failures → TargetError classes, which decide the retry policy:
 * transient is retried quickly, the others need a person, with a message that says what to fix.
 */
import { TargetError, invalid, permanent, transient } from '../../core/errors.js';
import { INSECURE_AUTH } from './connect.js';
import { errorCodeOf } from '../error-code.js';

const TRANSIENT_NET = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const TRANSIENT_SQL = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovery)
  '53300', // too_many_connections
  '57014', // query_canceled (statement_timeout)
  '55P03', // lock_not_available (lock_timeout)
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '42710', // duplicate_object: a concurrent grant created the role first; a retry finds it
]);


function privilegeHint(message: string): string {
  if (/terminate|signal/i.test(message)) return ' (grant it with: GRANT pg_signal_backend TO <service account>)';
  if (/admin option|grant role|revoke role/i.test(message)) {
    return ' (on PostgreSQL 16+ it needs ADMIN OPTION on each entitlement role: GRANT <role> TO <service account> WITH ADMIN OPTION)';
  }
  if (/role/i.test(message)) return ' (it needs CREATEROLE: ALTER ROLE <service account> CREATEROLE)';
  return '';
}

/** `where` names the target (host:port) so a message read in an alert says which server. */
export function toTargetError(err: unknown, where: string): TargetError {
  if (err instanceof TargetError) return err;
  const code = errorCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);

  // Refused before the password left: a person must change the target or the server's settings.
  if (code === 'EOUTBOUND') return permanent(`PostgreSQL at ${where}: ${message}`, err);
  if (code === INSECURE_AUTH) return permanent(`PostgreSQL at ${where}: ${message}`, err);
  if (code && TRANSIENT_NET.has(code)) return transient(`PostgreSQL at ${where} is unreachable (${code}): ${message}`, err);
  if (code && (TRANSIENT_SQL.has(code) || code.startsWith('08'))) {
    return transient(`PostgreSQL at ${where} failed temporarily (${code}): ${message}`, err);
  }
  if (code === '28P01' || code === '28000') {
    return permanent(`PostgreSQL at ${where}: authentication failed for the service account (${message})`, err);
  }
  if (code === '42501') {
    return permanent(`PostgreSQL at ${where}: the service account lacks a privilege: ${message}${privilegeHint(message)}`, err);
  }
  if (code === '42704') return invalid(`PostgreSQL at ${where}: ${message}`, err);
  if (/does not support SSL/i.test(message)) {
    return permanent(`PostgreSQL at ${where} does not accept TLS connections; set ssl to 'disable' or enable ssl on the server`, err);
  }
  if (/certificate|self[- ]signed|altnames/i.test(message)) {
    return permanent(`PostgreSQL at ${where}: TLS certificate not trusted: ${message}`, err);
  }
  if (/tuple concurrently updated/i.test(message)) return transient(`PostgreSQL at ${where}: ${message}`, err);
  // Any other SQL error is a bug or a server setting a person must look at; retrying won't help.
  if (code && /^[0-9A-Z]{5}$/.test(code)) return permanent(`PostgreSQL at ${where} (${code}): ${message}`, err);
  // No SQLSTATE: timeouts and dropped connections inside the driver.
  return transient(`PostgreSQL at ${where}: ${message}`, err);
}
