import { InsufficientAccessError, InvalidCredentialsError, ConstraintViolationError, NoSuchObjectError, BusyError, UnavailableError } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { TargetError } from '../../core/errors.js';
import { bindSubCode, toTargetError } from './errors.js';

const where = 'ldaps://dc1.example.com';
const sys = (code: string) => Object.assign(new Error(`connect ${code}`), { code });
const map = (err: unknown, doing?: string) => toTargetError(err, where, doing);

describe('Active Directory error classes (they decide whether the scheduler retries)', () => {
  it('retries outages, timeouts, busy and unavailable DCs', () => {
    for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH']) expect(map(sys(code)).errorClass, code).toBe('transient');
    expect(map(new Error('SearchRequest: Operation timed out')).errorClass).toBe('transient');
    expect(map(new Error('Connection timeout')).errorClass).toBe('transient');
    expect(map(new Error('Client network socket disconnected before secure TLS connection was established')).errorClass).toBe('transient');
    expect(map(new BusyError('busy')).errorClass).toBe('transient');
    expect(map(new UnavailableError('down')).errorClass).toBe('transient');
    expect(map(sys('ECONNREFUSED'), 'removing CN=x from CN=g').message).toBe(
      'Active Directory at ldaps://dc1.example.com is unreachable (ECONNREFUSED) while removing CN=x from CN=g',
    );
  });

  it('asks a person for bad service credentials, naming the AD sub-code', () => {
    const e = map(new InvalidCredentialsError('80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1'));
    expect(e.errorClass).toBe('permanent');
    expect(e.message).toContain('bind failed: invalid credentials (data 52e: wrong password, or no such account)');
    expect(bindSubCode(new Error('comment: AcceptSecurityContext error, data 533, v1db1'))).toBe('533');
    expect(bindSubCode(new Error('nothing here'))).toBeNull();
  });

  it('says which right is missing and which password rule failed', () => {
    const denied = map(new InsufficientAccessError('00002098: no write property access'), 'adding CN=bob to group CN=Domain Admins,CN=Users,DC=x');
    expect(denied.errorClass).toBe('permanent');
    expect(denied.message).toContain('insufficient access rights (50) while adding CN=bob to group CN=Domain Admins');
    const policy = map(new ConstraintViolationError('0000052D: Constraint violation - check_password_restrictions: the password is too short'));
    expect(policy.errorClass).toBe('permanent');
    expect(policy.message).toContain("the domain's password policy refused the password (constraint violation 0000052D)");
  });

  it('treats a missing object as invalid and TLS trust problems as configuration', () => {
    expect(map(new NoSuchObjectError('0000208D: NameErr'), 'reading OU=JIT').errorClass).toBe('invalid');
    const cert = map(sys('UNABLE_TO_VERIFY_LEAF_SIGNATURE'));
    expect(cert.errorClass).toBe('permanent');
    expect(cert.message).toContain('Set caPem to the CA that issued it');
    expect(map(sys('ERR_TLS_CERT_ALTNAME_INVALID')).message).toContain('tlsServerName');
    const mine = new TargetError('unsupported', 'no');
    expect(map(mine)).toBe(mine);
  });
});
