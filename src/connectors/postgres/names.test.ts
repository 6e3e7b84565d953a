import { describe, expect, it } from 'vitest';
import { validateAccountName, validateEntitlementName } from './names.js';

describe('PostgreSQL name rules', () => {
  it('accepts plain lowercase account names up to the 63-byte limit', () => {
    expect(validateAccountName('alice_jit')).toBeNull();
    expect(validateAccountName(`a${'b'.repeat(62)}`)).toBeNull();
  });

  it('explains each refusal in words', () => {
    expect(validateAccountName('bob;drop')).toBe(
      'Account names may only contain lowercase letters, digits and underscores (got "bob;drop")',
    );
    expect(validateAccountName(`a${'b'.repeat(63)}`)).toMatch(/3 to 63 characters/);
    expect(validateAccountName('ab')).toMatch(/3 to 63 characters/);
    expect(validateAccountName('1abc')).toMatch(/must start with a lowercase letter/);
    expect(validateAccountName('pg_admin')).toMatch(/reserves/);
  });

  it.each([
    ['public', /PostgreSQL reserves/],
    ['none', /PostgreSQL reserves/],
    ['all', /PostgreSQL reserves/],
    ['current_user', /PostgreSQL reserves/],
    ['session_user', /PostgreSQL reserves/],
    ['current_role', /PostgreSQL reserves/],
    ['user', /PostgreSQL reserves/],
    ['select', /PostgreSQL reserves/],
    ['table', /PostgreSQL reserves/],
    ['pg_monitor', /may not start with "pg_"/],
    ['pg_signal_backend', /may not start with "pg_"/],
  ])('refuses the reserved name %s', (name, message) => {
    expect(validateAccountName(name)).toMatch(message);
  });

  it.each(['public_jit', 'users', 'user_jit', 'allison', 'tables', 'pgadmin', 'nonesuch'])('accepts %s, which only looks like a reserved name', (name) => {
    expect(validateAccountName(name)).toBeNull();
  });

  it('allows DBA-style entitlement names but nothing that needs quoting tricks', () => {
    for (const ok of ['app_RO', 'reporting.read', 'team-a', 'x']) expect(validateEntitlementName(ok), ok).toBeNull();
    for (const bad of ['', 'a b', 'a"b', "a'b", 'a;b', 'ü', 'x'.repeat(64)]) {
      expect(validateEntitlementName(bad), bad).toEqual(expect.any(String));
    }
  });
});
