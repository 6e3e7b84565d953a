/**
 * The Active Directory JIT connector against a real Samba AD DC, judged from the outside: LDAPS
 * binds as the JIT user (with AD's "data XXX" sub-code when refused) and group `member` values as
 * the domain admin reads them. The connector runs as a service account holding only the
 * delegated rights the documentation lists.
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Change, type Client } from 'ldapts';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetError } from '../../src/core/errors.js';
import { describeConnectorConformance } from '../../src/connectors/conformance.js';
import type { ConnectorInstance, GrantSpec, RevokeSpec } from '../../src/connectors/contract.js';
import { activeDirectoryConfigSchema, activeDirectoryConnector } from '../../src/connectors/active-directory/active-directory-connector.js';
import { type JitDomain, type SambaDc, adminClient, bindAs, prepareJitDomain, startSambaDc } from '../harness/samba.js';
import { adTargetConfig, groupMembers } from '../support/ad-target.js';

const ctx = { log: pino({ level: 'silent' }) };
const hex = (n: number) => randomBytes(n).toString('hex');
const pw = () => `Pw-${randomBytes(15).toString('base64url')}9a`;
const soon = (ms: number) => new Date(Date.now() + ms);

let dc: SambaDc;
let domain: JitDomain;
let admin: Client;
let n = 0;
const newUsername = () => `u${++n}${hex(3)}_jit`;
const upn = (user: string) => `${user}@${dc.realm.toLowerCase()}`;
const configFor = (over: Record<string, unknown> = {}) =>
  activeDirectoryConfigSchema.parse(adTargetConfig(dc, domain, { operationTimeoutMs: 10_000, ...over }));

/** Direct members of a group, as the domain admin sees them. */
const members = (group: string) => groupMembers(admin, group);
async function userEntry(user: string) {
  const { searchEntries } = await admin.search(domain.jitOu, {
    filter: `(sAMAccountName=${user})`,
    attributes: ['userAccountControl', 'accountExpires', 'description', 'displayName', 'userPrincipalName'],
  });
  return searchEntries[0];
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
});
afterAll(async () => {
  await admin?.unbind();
  await dc?.destroy();
});

describeConnectorConformance('active-directory (Samba AD DC)', async () => ({
  definition: activeDirectoryConnector,
  config: configFor(),
  entitlements: domain.groups,
  newUsername,
  canLogin: async (user, password) => (await bindAs(dc, upn(user), password)) === 'ok',
  cleanup: async () => {},
}));

describe('active-directory connector, proven with real binds', () => {
  let target: ConnectorInstance;
  beforeAll(() => {
    target = activeDirectoryConnector.create(configFor());
  });
  afterAll(() => target?.close());

  const grantSpec = (user: string, password: string, over: Partial<GrantSpec> = {}): GrantSpec => ({
    grantId: `g-${hex(4)}`,
    account: { username: user, ownerDisplay: 'Dana Admin <dana@example.test>' },
    entitlements: [...domain.groups],
    notAfter: soon(30 * 60_000),
    accountNotAfter: soon(30 * 60_000),
    reason: 'patch the file servers (CHG-1234)',
    password,
    ...over,
  });
  const revokeSpec = (handle: Record<string, unknown>, over: Partial<RevokeSpec> = {}): RevokeSpec => ({
    grantId: 'r',
    handle,
    retain: [],
    accountStillNeededUntil: null,
    rotatePassword: pw(),
    ...over,
  });

  it('a grant creates a marked, enabled account in the JIT OU that binds and sits in the groups; revoke undoes all of it', async () => {
    const user = newUsername();
    const password = pw();
    const end = soon(45 * 60_000);
    const { handle, credential } = await target.grant(ctx, grantSpec(user, password, { accountNotAfter: end }));
    const dn = `CN=${user},${domain.jitOu}`;
    expect(handle).toEqual({ username: user, dn, entitlements: domain.groups });
    expect(credential).toEqual({ username: user, password });

    expect(await bindAs(dc, upn(user), password)).toBe('ok');
    expect(await bindAs(dc, dn, password)).toBe('ok');
    for (const g of domain.groups) expect(await members(g)).toContain(dn);
    const entry = await userEntry(user);
    expect(entry).toMatchObject({
      userAccountControl: '512',
      displayName: 'JIT: Dana Admin <dana@example.test>',
      userPrincipalName: upn(user),
    });
    expect(entry?.description).toMatch(/^Timebox JIT account of Dana Admin <dana@example.test>; grant g-\w+: patch the file servers \(CHG-1234\) \(managed by Timebox\)$/);
    // accountExpires is the grant's end, to the 100 ns tick: AD itself enforces it.
    expect(BigInt(String(entry?.accountExpires))).toBe((BigInt(end.getTime()) + 11_644_473_600_000n) * 10_000n);

    const spec = revokeSpec(handle);
    await target.revoke(ctx, spec);
    // The old password is gone at once (no 60-minute old-password window): wrong password, 52e.
    expect(await bindAs(dc, upn(user), password)).toBe('52e');
    // The rotated password is right, but the account is disabled: 533.
    expect(await bindAs(dc, upn(user), spec.rotatePassword)).toBe('533');
    for (const g of domain.groups) expect(await members(g)).not.toContain(dn);
    expect(await userEntry(user)).toMatchObject({ userAccountControl: '514' });
    expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
  });

  it('rotate replaces the password at once: the old one fails with 52e', async () => {
    const user = newUsername();
    const first = pw();
    const { handle } = await target.grant(ctx, grantSpec(user, first));
    const second = pw();
    await target.rotate!(ctx, handle, second);
    expect(await bindAs(dc, upn(user), first)).toBe('52e');
    expect(await bindAs(dc, upn(user), second)).toBe('ok');
  });

  it('extend moves accountExpires, so the native backstop follows an extended grant', async () => {
    const user = newUsername();
    const password = pw();
    const { handle } = await target.grant(ctx, grantSpec(user, password, { accountNotAfter: soon(60_000) }));
    const later = soon(3 * 3_600_000);
    await target.extend!(ctx, handle, later);
    expect(BigInt(String((await userEntry(user))?.accountExpires))).toBe((BigInt(later.getTime()) + 11_644_473_600_000n) * 10_000n);
    expect(await bindAs(dc, upn(user), password)).toBe('ok');
    const ghost = await failure(target.extend!(ctx, { username: 'nobody_jit', entitlements: [] }, later));
    expect(ghost.errorClass).toBe('invalid');
  });

  it('accountExpires refuses logins at the end time even if revoke never runs (data 701)', async () => {
    const user = newUsername();
    const password = pw();
    const end = soon(4000);
    await target.grant(ctx, grantSpec(user, password, { notAfter: end, accountNotAfter: end }));
    expect(await bindAs(dc, upn(user), password)).toBe('ok');
    const deadline = Date.now() + 30_000;
    let outcome = 'ok';
    while (outcome === 'ok' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      outcome = await bindAs(dc, upn(user), password);
    }
    expect(outcome).toBe('701');
    expect(Date.now()).toBeGreaterThanOrEqual(end.getTime());
  });

  it('revoke fails as transient while the DC is down, and completes once it is back', async () => {
    const user = newUsername();
    const password = pw();
    const { handle } = await target.grant(ctx, grantSpec(user, password));
    const spec = revokeSpec(handle);
    await dc.stop();
    try {
      const err = await failure(target.revoke(ctx, spec));
      expect(err.errorClass).toBe('transient');
      expect(err.message).toMatch(/^Active Directory at ldaps:\/\/127\.0\.0\.\d+ is unreachable \(ECONNREFUSED\)/);
    } finally {
      await dc.start();
    }
    await admin.unbind().catch(() => {});
    admin = await adminClient(dc); // the old admin connection died with the DC
    await target.revoke(ctx, spec);
    expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
    expect(await bindAs(dc, upn(user), password)).toBe('52e');
    for (const g of domain.groups) expect(await members(g)).not.toContain(`CN=${user},${domain.jitOu}`);
  });

  it('an account re-enabled and re-added to a group behind Timebox\'s back is reported as drifted, and revoke repairs it', async () => {
    const user = newUsername();
    const { handle } = await target.grant(ctx, grantSpec(user, pw()));
    const spec = revokeSpec(handle);
    await target.revoke(ctx, spec);
    const dn = `CN=${user},${domain.jitOu}`;
    const byHand = 'ByHand-Pass-42x';
    await admin.modify(dn, [
      new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [Buffer.from(`"${byHand}"`, 'utf16le')] }) }),
      new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: ['512'] }) }),
      new Change({ operation: 'replace', modification: new Attribute({ type: 'accountExpires', values: ['0'] }) }),
    ]);
    await admin.modify(domain.groups[1], [new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [dn] }) })]);
    expect(await bindAs(dc, upn(user), byHand)).toBe('ok');

    const drift = await target.verify(ctx, spec);
    expect(drift.state).toBe('drifted');
    expect(drift.findings).toEqual([
      { kind: 'entitlement', subject: domain.groups[1], expected: 'absent', actual: 'present' },
      { kind: 'login', subject: user, expected: 'disabled', actual: 'enabled' },
      { kind: 'expiry', subject: user, expected: expect.any(String), actual: null },
    ]);

    await target.revoke(ctx, spec);
    expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
    expect(await bindAs(dc, upn(user), byHand)).toBe('52e');
    expect(await members(domain.groups[1])).not.toContain(dn);
  });

  it('a full revoke also removes groups someone added by hand, which would otherwise return with the next grant', async () => {
    const user = newUsername();
    const { handle } = await target.grant(ctx, grantSpec(user, pw(), { entitlements: [domain.groups[0]] }));
    const dn = `CN=${user},${domain.jitOu}`;
    await admin.modify(domain.groups[1], [new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [dn] }) })]);
    const spec = revokeSpec(handle);
    expect((await target.verify(ctx, spec)).findings).toContainEqual({ kind: 'entitlement', subject: domain.groups[1], expected: 'absent', actual: 'present' });
    await target.revoke(ctx, spec);
    expect(await members(domain.groups[1])).not.toContain(dn);
    expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
  });

  it('while another grant still needs the account, revoke only takes the groups and shortens accountExpires', async () => {
    const user = newUsername();
    const password = pw();
    const { handle } = await target.grant(ctx, grantSpec(user, password));
    const until = soon(10 * 60_000);
    const spec = revokeSpec(handle, { retain: [domain.groups[0].toUpperCase()], accountStillNeededUntil: until });
    await target.revoke(ctx, spec);
    const dn = `CN=${user},${domain.jitOu}`;
    expect(await members(domain.groups[0])).toContain(dn); // retained, even spelled in another case
    expect(await members(domain.groups[1])).not.toContain(dn);
    expect(await bindAs(dc, upn(user), password)).toBe('ok');
    expect(BigInt(String((await userEntry(user))?.accountExpires))).toBe((BigInt(until.getTime()) + 11_644_473_600_000n) * 10_000n);
    expect(await target.verify(ctx, spec)).toEqual({ state: 'absent', findings: [] });
  });
});
