import { describe, expect, it } from 'vitest';
import { TargetError } from '../../core/errors.js';
import { toTargetError } from './errors.js';

const sqlError = (code: string, message = 'boom') => Object.assign(new Error(message), { code });
const classOf = (err: unknown) => toTargetError(err, 'db1:5432').errorClass;

describe('PostgreSQL error classes (they decide whether the scheduler retries)', () => {
  it('retries outages, restarts and overload', () => {
    for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', '57P01', '57P03', '53300', '08006', '57014']) {
      expect(classOf(sqlError(code)), code).toBe('transient');
    }
    const happyEyeballs = new AggregateError([sqlError('ECONNREFUSED'), sqlError('ECONNREFUSED')], 'connect failed');
    expect(classOf(happyEyeballs)).toBe('transient');
    expect(classOf(new Error('Connection terminated unexpectedly'))).toBe('transient');
  });

  it('needs a person for bad credentials and missing rights, and says which right', () => {
    const auth = toTargetError(sqlError('28P01', 'password authentication failed for user "svc"'), 'db1:5432');
    expect(auth.errorClass).toBe('permanent');
    expect(auth.message).toContain('authentication failed for the service account');
    expect(classOf(sqlError('28000'))).toBe('permanent');

    const createRole = toTargetError(sqlError('42501', 'permission denied to create role'), 'db1:5432');
    expect(createRole.errorClass).toBe('permanent');
    expect(createRole.message).toContain('CREATEROLE');
    const signal = toTargetError(sqlError('42501', 'permission denied to terminate process'), 'db1:5432');
    expect(signal.message).toContain('pg_signal_backend');
  });

  it('treats a missing object as invalid, and keeps errors that are already classified', () => {
    expect(classOf(sqlError('42704', 'role "x" does not exist'))).toBe('invalid');
    const mine = new TargetError('unsupported', 'no');
    expect(toTargetError(mine, 'db1:5432')).toBe(mine);
  });

  it('names the server in every message', () => {
    expect(toTargetError(sqlError('ECONNREFUSED'), 'db1:5432').message).toContain('db1:5432');
  });
});
