/**
 * The `active-directory-groups` kind: temporary group membership for an EXISTING user, against a
 * real Samba AD DC. The user's own account (password, enabled state) is never touched.
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Change, Client, EqualityFilter } from 'ldapts';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetError } from '../../src/core/errors.js';
import type { ConnectorInstance, GrantSpec, RevokeSpec } from '../../src/connectors/contract.js';
import {
  activeDirectoryConfigSchema,
  activeDirectoryConnector,
  activeDirectoryGroupMembershipConnector,
  activeDirectoryGroupsConfigSchema,
} from '../../src/connectors/active-directory/active-directory-connector.js';
import { type JitDomain, type SambaDc, adminClient, bindAs, prepareJitDomain, startSambaDc } from '../harness/samba.js';
import { groupMembers } from '../support/ad-target.js';
import { describeMembershipConformance } from '../../src/connectors/membership-conformance.js';

const ctx = { log: pino({ level: 'silent' }) };
const hex = (n: number) => randomBytes(n).toString('hex');
const pw = () => `Pw-${randomBytes(15).toString('base64url')}9a`;

let dc: SambaDc;
let domain: JitDomain;
let admin: Client;
let target: ConnectorInstance;

const connection = () => ({
  url: dc.ldapsUrl,
  bindDn: domain.serviceDn,
  bindPassword: domain.servicePassword,
  caPem: dc.caPem,
  tlsServerName: dc.tlsServerName,
  baseDn: dc.baseDn,
});
/** By default the requester is the user's owner: the directory shows it (their address is the user's userPrincipalName). */
const grantSpec = (username: string, entitlements: string[]): GrantSpec => ({
  grantId: `g-${hex(4)}`,
  requester: { operatorId: 'op-erin', email: `${username}@${dc.realm.toLowerCase()}` },
  account: { username, ownerDisplay: 'Erin Ops <erin@example.test>' },
  entitlements,
  notAfter: new Date(Date.now() + 3_600_000),
  accountNotAfter: new Date(Date.now() + 3_600_000),
  reason: 'restore the backup server',
  password: pw(),
});
const revokeSpec = (handle: Record<string, unknown>, over: Partial<RevokeSpec> = {}): RevokeSpec => ({
  grantId: 'r', handle, retain: [], accountStillNeededUntil: null, rotatePassword: pw(), ...over,
});
const members = (group: string) => groupMembers(admin, group);
/** An ordinary, enabled domain user with a password only its owner knows. */
async function existingUser() {
  const sam = `erin.${hex(3)}`;
  const dn = `CN=${sam},CN=Users,${dc.baseDn}`;
  const password = pw();
  await admin.add(dn, {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    sAMAccountName: sam,
    userPrincipalName: `${sam}@${dc.realm.toLowerCase()}`,
    unicodePwd: Buffer.from(`"${password}"`, 'utf16le') as unknown as string,
    userAccountControl: '512',
  });
  const snapshot = async () =>
    (await admin.search(dn, { scope: 'base', attributes: ['userAccountControl', 'pwdLastSet', 'accountExpires', 'description'] })).searchEntries[0];
  return { sam, dn, password, before: await snapshot(), snapshot };
}
const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('expected a TargetError'),
    (e: unknown) => {
      expect(e).toBeInstanceOf(TargetError);
      return e as TargetError;
    },
  );

beforeAll(async () => {
  dc = await startSambaDc();
  domain = await prepareJitDomain(dc);
  admin = await adminClient(dc);
  target = activeDirectoryGroupMembershipConnector.create(activeDirectoryGroupsConfigSchema.parse(connection()));
});
afterAll(async () => {
  await admin?.unbind();
  await dc?.destroy();
});

describe('active-directory-groups connector', () => {
  it('declares what it is: no JIT accounts, no passwords, no rotation', () => {
    expect(activeDirectoryGroupMembershipConnector.kind).toBe('active-directory-groups');
    expect(activeDirectoryGroupMembershipConnector.capabilities).toEqual({ nativeExpiry: false, endsSessions: false, canRotate: false, jitAccounts: false });
    expect(target.rotate).toBeUndefined();
  });

  it('an existing user gets the group during the grant and loses it after revoke; the account itself is untouched', async () => {
    const user = await existingUser();
    const [group] = domain.groups;
    const { handle, credential } = await target.grant(ctx, grantSpec(user.sam, [group]));
    expect(credential).toBeNull();
    expect(handle).toEqual({ username: user.sam, dn: user.dn, entitlements: [group], objectGuid: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(await members(group)).toContain(user.dn);
    const spec = revokeSpec(handle);
    expect((await target.verify(ctx, spec)).state).toBe('present');

    await target.revoke(ctx, spec);
    expect(await members(group)).not.toContain(user.dn);
    expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
    expect(await user.snapshot()).toEqual(user.before);
    expect(await bindAs(dc, user.dn, user.password)).toBe('ok');
  });

  it('overlapping grants: a group another grant retains stays, the other goes', async () => {
    const user = await existingUser();
    const [shared, extra] = domain.groups;
    await target.grant(ctx, grantSpec(user.sam, [shared]));
    const second = await target.grant(ctx, grantSpec(user.sam, [shared, extra]));
    const spec = revokeSpec(second.handle, { retain: [shared], accountStillNeededUntil: new Date(Date.now() + 600_000) });
    await target.revoke(ctx, spec);
    expect(await members(shared)).toContain(user.dn);
    expect(await members(extra)).not.toContain(user.dn);
    expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
    const both = await target.verify(ctx, revokeSpec(second.handle));
    expect(both).toEqual({ state: 'drifted', findings: [{ kind: 'entitlement', subject: shared, expected: 'absent', actual: 'present' }] });
  });

  it('a membership removed by hand is fine for revoke; one re-added by hand is reported', async () => {
    const user = await existingUser();
    const [group] = domain.groups;
    const { handle } = await target.grant(ctx, grantSpec(user.sam, [group]));
    const spec = revokeSpec(handle);
    await target.revoke(ctx, spec);
    await target.revoke(ctx, spec); // not a member any more: still success
    await target.grant(ctx, grantSpec(user.sam, [group])); // someone (here: a grant) adds it back
    expect(await target.verify(ctx, spec)).toEqual({ state: 'present', findings: [{ kind: 'entitlement', subject: group, expected: 'absent', actual: 'present' }] });
  });

  it('refuses Timebox JIT accounts, unknown users and groups outside its rights, changing nothing', async () => {
    const jit = activeDirectoryConnector.create(activeDirectoryConfigSchema.parse({ ...connection(), jitOu: domain.jitOu }));
    const jitUser = `j${hex(3)}_jit`;
    await jit.grant(ctx, { ...grantSpec(jitUser, []), password: pw() });
    const err = await failure(target.grant(ctx, grantSpec(jitUser, [domain.groups[0]])));
    expect(err.errorClass).toBe('invalid');
    expect(err.message).toBe(
      `CN=${jitUser},${domain.jitOu} is a Timebox JIT account; its groups are managed by its active-directory target, not by group membership grants`,
    );
    expect(await members(domain.groups[0])).not.toContain(`CN=${jitUser},${domain.jitOu}`);

    const ghost = await failure(target.grant(ctx, grantSpec('nobody_here', [domain.groups[0]])));
    expect(ghost.message).toBe(`there is no user with sAMAccountName "nobody_here" under ${dc.baseDn}`);

    const user = await existingUser();
    const denied = await failure(target.grant(ctx, grantSpec(user.sam, [domain.groups[0], domain.unmanagedGroup])));
    expect(denied.errorClass).toBe('permanent');
    expect(await members(domain.groups[0])).not.toContain(user.dn);
  });

  it("adds groups only to a user the directory shows to be the requester's, or whose binding an administrator confirmed", async () => {
    const user = await existingUser(); // userPrincipalName <sam>@<realm>
    const [group] = domain.groups;
    const set = (type: 'mail' | 'userPrincipalName', value: string) =>
      admin.modify(user.dn, [new Change({ operation: 'replace', modification: new Attribute({ type, values: [value] }) })]);
    // A colleague names this user at their first request: refused before anything changes.
    const mallory = { operatorId: 'op-mallory', email: 'mallory@example.test' };
    const asMallory = (over: Partial<GrantSpec['account']> = {}) => {
      const spec = grantSpec(user.sam, [group]);
      return { ...spec, requester: mallory, account: { ...spec.account, ...over } };
    };
    const refusedGrant = await failure(target.grant(ctx, asMallory()));
    expect(refusedGrant.refusal).toBe('account_foreign');
    expect(refusedGrant.message).toBe(
      `the directory does not show that user "${user.sam}" is mallory@example.test's: its userPrincipalName is not that address, and no administrator of the tenant has confirmed it (JIT accounts: Confirm)`,
    );
    expect(await members(group)).not.toContain(user.dn);

    // mail proves nothing: it is not unique, and more people may write it than may write groups.
    await set('mail', 'mallory@example.test');
    expect((await failure(target.grant(ctx, asMallory()))).refusal).toBe('account_foreign');
    expect(await members(group)).not.toContain(user.dn);

    // The user signs in as the requester's address (letter case aside): the directory proves it.
    await set('userPrincipalName', 'Mallory@Example.TEST');
    const bySignInName = await target.grant(ctx, asMallory());
    expect(await members(group)).toContain(user.dn);
    await target.revoke(ctx, revokeSpec(bySignInName.handle));

    // Checked at every grant: a sign-in name changed since proves nothing any more.
    await set('userPrincipalName', `${user.sam}@${dc.realm.toLowerCase()}`);
    expect((await failure(target.grant(ctx, asMallory()))).refusal).toBe('account_foreign');
    expect(await members(group)).not.toContain(user.dn);

    // An administrator confirmed the binding: granted whatever the addresses say.
    const confirmed = await target.grant(ctx, asMallory({ bindingConfirmed: true }));
    expect(await members(group)).toContain(user.dn);
    await target.revoke(ctx, revokeSpec(confirmed.handle));

    // The confirmation was of this object: pinned to another (the user deleted and created again
    // under the name), it is refused before anything changes; pinned to this one, granted.
    const replaced = await failure(target.grant(ctx, asMallory({ bindingConfirmed: true, boundObjectId: '0'.repeat(32) })));
    expect(replaced.refusal).toBe('account_replaced');
    expect(await members(group)).not.toContain(user.dn);
    const pinned = await target.grant(ctx, asMallory({ bindingConfirmed: true, boundObjectId: String(confirmed.handle.objectGuid) }));
    expect(await members(group)).toContain(user.dn);
    await target.revoke(ctx, revokeSpec(pinned.handle));

    // No requester given at all, nothing confirmed: refused.
    const { requester: _none, ...anonymous } = grantSpec(user.sam, [group]);
    expect((await failure(target.grant(ctx, anonymous))).refusal).toBe('account_foreign');
    expect(await members(group)).not.toContain(user.dn);
    expect(await user.snapshot()).toEqual(user.before);
  });

  it('revoking for a user who has since been deleted succeeds', async () => {
    const user = await existingUser();
    const { handle } = await target.grant(ctx, grantSpec(user.sam, [domain.groups[1]]));
    await admin.del(user.dn);
    const spec = revokeSpec(handle);
    await target.revoke(ctx, spec);
    expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
  });
});

// The shared membership contract, judged as the person sees it: their own bind and their own memberOf.
describeMembershipConformance('active-directory-groups (Samba AD DC)', async () => ({
  definition: activeDirectoryGroupMembershipConnector,
  config: activeDirectoryGroupsConfigSchema.parse(connection()),
  entitlements: domain.groups,
  missing: `CN=missing-${hex(3)},${domain.groupsOu}`,
  async newPerson() {
    const u = await existingUser();
    return { username: u.sam, password: u.password };
  },
  async holds(person, group) {
    const own = new Client({ url: dc.ldapsUrl, connectTimeout: 5000, timeout: 15_000, tlsOptions: { ca: dc.caPem, servername: dc.tlsServerName } });
    try {
      await own.bind(`${person.username}@${dc.realm.toLowerCase()}`, person.password);
      const { searchEntries } = await own.search(dc.baseDn, { scope: 'sub', filter: new EqualityFilter({ attribute: 'sAMAccountName', value: person.username }), attributes: ['memberOf'] });
      const m = searchEntries[0]?.memberOf ?? [];
      return (Array.isArray(m) ? m : [m]).map((g) => String(g).toLowerCase()).includes(group.toLowerCase());
    } finally {
      await own.unbind().catch(() => {});
    }
  },
  canLogin: async (person) => (await bindAs(dc, `${person.username}@${dc.realm.toLowerCase()}`, person.password)) === 'ok',
  cleanup: async () => {},
}));
