import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { activeDirectoryConfigSchema, activeDirectoryGroupsConfigSchema } from './config.js';

const base = {
  url: 'ldaps://dc1.example.com',
  bindDn: 'CN=svc-timebox,OU=Service,DC=example,DC=com',
  bindPassword: 'x',
  caPem: '-----BEGIN CERTIFICATE-----\nMII…\n-----END CERTIFICATE-----\n',
  baseDn: 'DC=example,DC=com',
  jitOu: 'OU=JIT,DC=example,DC=com',
};
const problems = (input: unknown, schema: z.ZodType = activeDirectoryConfigSchema) => {
  const r = schema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => i.message);
};

describe('Active Directory target configuration', () => {
  it('accepts LDAPS, or LDAP with StartTLS, and fills in timeouts', () => {
    expect(activeDirectoryConfigSchema.parse(base)).toMatchObject({ startTls: false, connectTimeoutMs: 5000, operationTimeoutMs: 15000 });
    expect(problems({ ...base, url: 'ldap://dc1.example.com:389', startTls: true })).toEqual([]);
  });

  it('refuses plain LDAP with a reason an admin understands', () => {
    expect(problems({ ...base, url: 'ldap://dc1.example.com' })[0]).toMatch(/plain LDAP would send the service account password .* in clear text.*use ldaps:\/\/… or set startTls: true/);
    expect(problems({ ...base, url: 'ldaps://dc1', startTls: true })[0]).toMatch(/startTls applies to ldap:\/\/ URLs only/);
    expect(problems({ ...base, url: 'http://dc1' })[0]).toMatch(/url must look like ldaps:\/\//);
  });

  it('checks DNs, the OU placement, the CA and unknown keys', () => {
    expect(problems({ ...base, jitOu: 'JIT' })[0]).toMatch(/jitOu must be a distinguished name/);
    expect(problems({ ...base, jitOu: 'OU=JIT,DC=other,DC=com' })[0]).toBe('jitOu OU=JIT,DC=other,DC=com must be inside baseDn DC=example,DC=com');
    expect(problems({ ...base, caPem: 'not a pem' })[0]).toMatch(/caPem must be a PEM certificate/);
    expect(problems({ ...base, tlsVerify: false }).join()).toMatch(/tlsVerify/);
    expect(problems({ ...base, deleteAfterIdleDays: 0 }).length).toBe(1);
  });

  it('the group-membership kind needs no JIT OU', () => {
    const { jitOu: _, ...groups } = base;
    expect(problems(groups, activeDirectoryGroupsConfigSchema)).toEqual([]);
    expect(problems(base, activeDirectoryGroupsConfigSchema).join()).toMatch(/jitOu/);
  });
});
