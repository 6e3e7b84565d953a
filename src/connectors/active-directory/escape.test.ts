import { FilterParser } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { formatDn, isWithin, normalizeDn, parentOf, parseDn, sameDn } from './dn.js';
import { escapeDnValue, escapeFilterValue } from './escape.js';

describe('filter values (RFC 4515)', () => {
  it('escapes the five characters that would change a filter', () => {
    expect(escapeFilterValue('*')).toBe('\\2a');
    expect(escapeFilterValue('(')).toBe('\\28');
    expect(escapeFilterValue(')')).toBe('\\29');
    expect(escapeFilterValue('\\')).toBe('\\5c');
    expect(escapeFilterValue('\u0000')).toBe('\\00');
    expect(escapeFilterValue('admin)(|(sAMAccountName=*')).toBe('admin\\29\\28|\\28sAMAccountName=\\2a');
    expect(escapeFilterValue('Jörg-ok_1.x')).toBe('Jörg-ok_1.x');
  });

  it('an injection attempt stays one equality assertion on the literal value', () => {
    const evil = '*)(objectClass=*';
    const filter = FilterParser.parseString(`(sAMAccountName=${escapeFilterValue(evil)})`);
    expect(filter.constructor.name).toBe('EqualityFilter');
    expect((filter as unknown as { value: string }).value).toBe(evil);
  });
});

describe('DN values (RFC 4514)', () => {
  it('escapes specials, a leading # or space and a trailing space', () => {
    expect(escapeDnValue('Smith, John')).toBe('Smith\\, John');
    expect(escapeDnValue('a+b')).toBe('a\\+b');
    expect(escapeDnValue('say "hi"')).toBe('say \\"hi\\"');
    expect(escapeDnValue('#1 admin')).toBe('\\#1 admin');
    expect(escapeDnValue(' padded ')).toBe('\\ padded\\ ');
    expect(escapeDnValue(' ')).toBe('\\ ');
    expect(escapeDnValue('a;b<c>d=e\\f')).toBe('a\\;b\\<c\\>d\\=e\\\\f');
    expect(escapeDnValue('nul\u0000tab\t')).toBe('nul\\00tab\\09');
    expect(escapeDnValue('middle # and  spaces')).toBe('middle # and  spaces');
  });

  it('every escaped value parses back to itself', () => {
    for (const v of ['Smith, John', 'a+b', ' x ', '#x', 'x\\y', 'q"q', 'Jörg', 'a=b;c', ' ']) {
      const dn = `CN=${escapeDnValue(v)},OU=JIT,DC=example,DC=com`;
      expect(parseDn(dn)[0]).toEqual([{ type: 'CN', value: v }]);
    }
  });
});

describe('DN parsing and comparison', () => {
  it('reads hex escapes as UTF-8 and multi-valued RDNs', () => {
    expect(parseDn('CN=J\\C3\\B6rg+UID=jb,DC=x')).toEqual([[{ type: 'CN', value: 'Jörg' }, { type: 'UID', value: 'jb' }], [{ type: 'DC', value: 'x' }]]);
  });

  it('refuses what is not a DN, saying why', () => {
    expect(() => parseDn('missing_1234')).toThrow(/expected "=" after "missing"/);
    expect(() => parseDn('')).toThrow(/empty/);
    expect(() => parseDn('CN=a;b,DC=x')).toThrow(/";" must be escaped/);
    expect(() => parseDn('CN=,DC=x')).toThrow(/value of CN is empty/);
    expect(() => parseDn('CN=#04,DC=x')).toThrow(/hex-encoded/);
    expect(() => parseDn('CN=x\\')).toThrow(/lone/);
  });

  it('compares like AD: case, spacing after commas and escaping style do not matter', () => {
    expect(sameDn('CN=Domain Admins,CN=Users,DC=Example,DC=com', 'cn=domain admins, cn=users, dc=example, dc=COM')).toBe(true);
    expect(sameDn('CN=a\\2cb,DC=x', 'CN=a\\,b,DC=x')).toBe(true);
    expect(sameDn('CN=a,DC=x', 'CN=b,DC=x')).toBe(false);
    expect(normalizeDn('OU=JIT,DC=x')).toBe('ou=jit,dc=x');
    expect(isWithin('CN=g,OU=Groups,DC=example,DC=com', 'dc=example,dc=com')).toBe(true);
    expect(isWithin('DC=example,DC=com', 'DC=example,DC=com')).toBe(true);
    expect(isWithin('CN=g,DC=evil,DC=com', 'DC=example,DC=com')).toBe(false);
    expect(isWithin('CN=g,DC=notexample,DC=com', 'DC=example,DC=com')).toBe(false);
    expect(parentOf('CN=bob,OU=JIT,DC=x')).toBe('ou=jit,dc=x');
    expect(formatDn(parseDn('CN=Smith\\, J,DC=x'))).toBe('CN=Smith\\, J,DC=x');
  });
});
