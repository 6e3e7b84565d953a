import { describe, expect, it } from 'vitest';
import { passwordMentionsAccount, validateAccountName, validateEntitlementName, validateJitAccountName } from './names.js';

describe('Active Directory account names (sAMAccountName)', () => {
  it('accepts the names admins use for JIT accounts', () => {
    for (const ok of ['alice_jit', 'j.doe-adm', 'A', 'x'.repeat(20), 'Bob_JIT']) expect(validateAccountName(ok), ok).toBeNull();
  });

  it('says the 20-character limit and the actual length (Quickpass\'s "known bug")', () => {
    expect(validateAccountName('christopher_long_jit')).toBeNull(); // exactly 20
    expect(validateAccountName('christopher_longe_jit')).toBe(
      'Account names may be at most 20 characters, the Active Directory limit for sAMAccountName; "christopher_longe_jit" has 21',
    );
  });

  it('names the character AD forbids', () => {
    for (const ch of ['"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@']) {
      expect(validateAccountName(`a${ch}b`), ch).toContain(`contains "${ch}", which Active Directory does not allow`);
    }
    expect(validateAccountName(')(')).toBe('Account names may only contain ASCII letters, digits, "_", "-" and "." (got ")(")');
  });

  it('refuses control characters, non-ASCII, dots-and-spaces only, and other punctuation', () => {
    expect(validateAccountName('tab\tname')).toMatch(/control characters/);
    expect(validateAccountName('jörg_jit')).toMatch(/contains "ö": Timebox accepts only ASCII/);
    expect(validateAccountName('...')).toMatch(/only of dots and spaces/);
    expect(validateAccountName("o'brien")).toMatch(/ASCII letters, digits/);
    expect(validateAccountName('a b')).toMatch(/ASCII letters, digits/);
    expect(validateAccountName('bob.')).toMatch(/end with a dot/);
    expect(validateAccountName('')).toMatch(/empty/);
  });
});

describe('entitlements are group DNs', () => {
  it('accepts group DNs and explains what else is expected', () => {
    expect(validateEntitlementName('CN=Domain Admins,CN=Users,DC=example,DC=com')).toBeNull();
    expect(validateEntitlementName('CN=Smith\\, ops,OU=G,DC=x')).toBeNull();
    expect(validateEntitlementName('Domain Admins')).toMatch(/group distinguished names such as "CN=Server Admins/);
    expect(validateEntitlementName('OU=Groups,DC=x')).toMatch(/starting with CN=/);
    expect(validateEntitlementName('CN=top')).toMatch(/starting with CN=/);
  });
});

describe("AD's complexity rule about names in the password", () => {
  it('finds the account name or a 3+ character part of the display name, ignoring case', () => {
    expect(passwordMentionsAccount('xxBOB_JITxx', 'bob_jit', 'JIT: Bob')).toBe('the account name');
    expect(passwordMentionsAccount('Q9-bobZ', 'alice', 'JIT: Bob Smith <b@x.test>')).toBe('"Bob" from the display name');
    expect(passwordMentionsAccount('Q9-boZ', 'al', 'JIT: Al Bo <b@x.test>')).toBeNull(); // 2-char parts do not count
    expect(passwordMentionsAccount('Zz9-Random', 'alice_jit', 'JIT: Alice')).toBeNull();
  });
});

describe('Active Directory JIT account names: built-in and well-known accounts are reserved', () => {
  it.each(['krbtgt', 'KRBTGT', 'Administrator', 'administrator', 'Guest', 'DefaultAccount', 'WDAGUtilityAccount', 'krbtgt_12345', 'Administrators', 'Everyone'])(
    'refuses %s',
    (name) => expect(validateJitAccountName(name)).toMatch(/built-in Active Directory account or well-known principal/),
  );
  it.each(['admin_jit', 'krbtgt_x', 'guest_jit', 'administrator2'])('accepts %s', (name) => expect(validateJitAccountName(name)).toBeNull());
  it('still applies the sAMAccountName rules first', () => {
    expect(validateJitAccountName('a,b')).toMatch(/contains ","/);
  });
  it('leaves existing users (group-membership grants) to the plain rules', () => {
    expect(validateAccountName('Administrator')).toBeNull();
  });
});
