/** What claims mean for a tenant: one row per case, as the mapping is read at every sign-in. */
import { describe, expect, it } from 'vitest';
import { interpretClaims } from './claims.js';

const settings = {
  emailClaim: 'email',
  emailVerifiedClaim: 'email_verified',
  groupsClaim: 'groups',
  roleMappings: [
    { group: 'pam-admins', roles: ['admin' as const] },
    { group: 'dba', roles: ['requester' as const, 'approver' as const] },
    { group: 'dba-leads', roles: ['approver' as const] },
  ],
  groupMappings: [{ group: 'dba', operatorGroup: 'db-approvers' }],
};

describe('interpretClaims', () => {
  it.each([
    ['no groups: no role', { email: 'a@x.test', email_verified: true }, [], []],
    ['one group', { email: 'a@x.test', email_verified: true, groups: ['dba'] }, ['requester', 'approver'], ['db-approvers']],
    ['overlapping groups: each role once', { email: 'a@x.test', email_verified: true, groups: ['dba', 'dba-leads'] }, ['requester', 'approver'], ['db-approvers']],
    ['a single string', { email: 'a@x.test', email_verified: true, groups: 'pam-admins' }, ['admin'], []],
    ['unmapped and non-string groups ignored', { email: 'a@x.test', email_verified: true, groups: ['marketing', 7, null] }, [], []],
    ['case matters', { email: 'a@x.test', email_verified: true, groups: ['DBA'] }, [], []],
  ])('%s', (_name, claims, roles, groups) => {
    const id = interpretClaims(settings, 'sub-1', claims);
    expect(id.roles).toEqual(roles);
    expect(id.operatorGroups).toEqual(groups);
    expect(id.mappedOperatorGroups).toEqual(['db-approvers']);
  });

  it.each([
    [true, true],
    ['true', true],
    [false, false],
    ['false', false],
    [undefined, false],
    [1, false],
  ])('email_verified %j counts as verified: %j', (value, verified) => {
    expect(interpretClaims(settings, 's', { email: 'A@X.test', email_verified: value }).emailVerified).toBe(verified);
  });

  it('lower-cases the email, takes the configured claims, and has no email when the claim is missing or empty', () => {
    const entra = { ...settings, emailClaim: 'upn', emailVerifiedClaim: 'xms_edov', groupsClaim: 'roles' };
    const id = interpretClaims(entra, 's', { upn: ' Ada@Example.TEST ', xms_edov: true, roles: ['pam-admins'], name: 'Ada' });
    expect(id).toMatchObject({ email: 'ada@example.test', emailVerified: true, roles: ['admin'], displayName: 'Ada' });
    expect(interpretClaims(settings, 's', { email: '' }).email).toBeNull();
    expect(interpretClaims(settings, 's', {}).email).toBeNull();
  });
});
