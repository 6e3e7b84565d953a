/**
 * What a domain admin sees of the Active Directory connector beyond grant and revoke: names that
 * are refused before anything is created, "Test connection", the group list, rights it lacks,
 * TLS it will not skip, and idle JIT accounts it cleans up. Real Samba AD DC, one per file.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { Attribute, Change, type Client } from 'ldapts';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetError } from '../../src/core/errors.js';
import type { GrantSpec } from '../../src/connectors/contract.js';
import { activeDirectoryConfigSchema, activeDirectoryConnector } from '../../src/connectors/active-directory/active-directory-connector.js';
import { type JitDomain, type SambaDc, adminClient, bindAs, prepareJitDomain, startSambaDc } from '../harness/samba.js';
import { adTargetConfig } from '../support/ad-target.js';

const ctx = { log: pino({ level: 'silent' }) };
const hex = (n: number) => randomBytes(n).toString('hex');
const pw = () => `Pw-${randomBytes(15).toString('base64url')}9a`;
const FILETIME_1601_MS = 11_644_473_600_000n;

let dc: SambaDc;
let domain: JitDomain;
let admin: Client;
const configFor = (over: Record<string, unknown> = {}) =>
  activeDirectoryConfigSchema.parse(adTargetConfig(dc, domain, { operationTimeoutMs: 10_000, ...over }));
const grantSpec = (username: string, over: Partial<GrantSpec> = {}): GrantSpec => ({
  grantId: `g-${hex(4)}`,
  account: { username, ownerDisplay: 'Dana Admin <dana@example.test>' },
  entitlements: [...domain.groups],
  notAfter: new Date(Date.now() + 3_600_000),
  accountNotAfter: new Date(Date.now() + 3_600_000),
  reason: 'admin tests',
  password: pw(),
  ...over,
});
const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('expected a TargetError'),
    (e: unknown) => {
      expect(e).toBeInstanceOf(TargetError);
      return e as TargetError;
    },
  );
/** Every object in the JIT OU, as the admin sees it. */
async function jitOuContents(): Promise<string[]> {
  const { searchEntries } = await admin.search(domain.jitOu, { scope: 'one', attributes: ['sAMAccountName'] });
  return searchEntries.map((e) => e.dn).sort();
}
async function addUser(dn: string, sam: string, extra: Record<string, string> = {}) {
  await admin.add(dn, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: sam, ...extra });
}

beforeAll(async () => {
  dc = await startSambaDc();
  domain = await prepareJitDomain(dc);
  admin = await adminClient(dc);
});
afterAll(async () => {
  await admin?.unbind();
  await dc?.destroy();
});

describe('account names are refused before anything is created', () => {
  it('too long, forbidden characters, non-ASCII: the message says why and the JIT OU stays as it was', async () => {
    const target = activeDirectoryConnector.create(configFor());
    const before = await jitOuContents();
    const cases: [string, RegExp][] = [
      ['christopher_longe_jit', /at most 20 characters, the Active Directory limit for sAMAccountName; "christopher_longe_jit" has 21/],
      ['smith,john', /contains ",", which Active Directory does not allow/],
      ['say"hi', /contains """, which Active Directory does not allow/],
      ['*', /contains "\*", which Active Directory does not allow/],
      [')(', /may only contain ASCII letters, digits/],
      ['jörg_jit', /contains "ö": Timebox accepts only ASCII/],
    ];
    for (const [name, why] of cases) {
      expect(activeDirectoryConnector.validateAccountName(name), name).toMatch(why);
      const err = await failure(target.grant(ctx, grantSpec(name)));
      expect(err.errorClass, name).toBe('invalid');
      expect(err.message, name).toMatch(why);
    }
    expect(await jitOuContents()).toEqual(before);
  });

  it("an existing account that Timebox did not create (Administrator) is named and left untouched", async () => {
    const target = activeDirectoryConnector.create(configFor());
    const read = async () =>
      (await admin.search(dc.adminDn, { scope: 'base', attributes: ['userAccountControl', 'pwdLastSet', 'description', 'memberOf', 'accountExpires'] })).searchEntries[0];
    const before = await read();
    const contents = await jitOuContents();
    const err = await failure(target.grant(ctx, grantSpec('Administrator')));
    expect(err.errorClass).toBe('invalid');
    expect(err.message).toBe(
      `sAMAccountName "Administrator" is already used by ${dc.adminDn}, which is not a Timebox JIT account; Timebox will not change it (choose another account name)`,
    );
    const revokeErr = await failure(target.revoke(ctx, { grantId: 'r', handle: { username: 'Administrator', entitlements: [] }, retain: [], accountStillNeededUntil: null, rotatePassword: pw() }));
    expect(revokeErr.errorClass).toBe('invalid');
    expect(await read()).toEqual(before);
    expect(await bindAs(dc, dc.adminDn, dc.adminPassword)).toBe('ok');
    expect(await jitOuContents()).toEqual(contents);
  });

  it('an unmarked user inside the JIT OU is not taken over either', async () => {
    const target = activeDirectoryConnector.create(configFor());
    const dn = `CN=manual_user,${domain.jitOu}`;
    await addUser(dn, 'manual_user', { description: 'created by hand' });
    const err = await failure(target.grant(ctx, grantSpec('manual_user')));
    expect(err.message).toContain(`already used by ${dn}, which is not a Timebox JIT account`);
    const { searchEntries } = await admin.search(dn, { scope: 'base', attributes: ['userAccountControl', 'description'] });
    expect(searchEntries[0]).toMatchObject({ userAccountControl: '546', description: 'created by hand' });
  });

  it('a group that is not a DN, not under baseDn, or missing is refused by name before the account exists', async () => {
    const target = activeDirectoryConnector.create(configFor());
    const user = `g${hex(3)}_jit`;
    const missing = `CN=No Such Group,${domain.groupsOu}`;
    const err = await failure(target.grant(ctx, grantSpec(user, { entitlements: [domain.groups[0], missing] })));
    expect(err.message).toContain(`group(s) ${missing} do not exist`);
    const notDn = await failure(target.grant(ctx, grantSpec(user, { entitlements: ['Domain Admins'] })));
    expect(notDn.message).toMatch(/group distinguished names such as/);
    const outside = await failure(target.grant(ctx, grantSpec(user, { entitlements: ['CN=Admins,DC=other,DC=test'] })));
    expect(outside.message).toContain('outside baseDn');
    expect((await jitOuContents()).some((d) => d.includes(user))).toBe(false);
  });

  it('a group the service account may not change is refused up front as permanent, naming the right to delegate', async () => {
    const target = activeDirectoryConnector.create(configFor());
    const user = `r${hex(3)}_jit`;
    const err = await failure(target.grant(ctx, grantSpec(user, { entitlements: [domain.groups[0], domain.unmanagedGroup] })));
    expect(err.errorClass).toBe('permanent');
    expect(err.message).toBe(
      `the service account may not change the members of ${domain.unmanagedGroup}: delegate "Write Members" on each group Timebox grants (for protected groups such as Domain Admins, on AdminSDHolder)`,
    );
    expect((await jitOuContents()).some((d) => d.includes(user))).toBe(false);
  });
});

describe("AD's rule against names inside passwords", () => {
  it('a generated password containing the account name is refused before anything is sent, as transient so the core retries with a new one', async () => {
    const target = activeDirectoryConnector.create(configFor());
    const user = `p${hex(3)}_jit`;
    const err = await failure(target.grant(ctx, grantSpec(user, { password: `Xy9-${user.toUpperCase()}-z` })));
    expect(err.errorClass).toBe('transient');
    expect(err.message).toBe("the generated password happens to contain the account name, which Active Directory's complexity rule refuses; retrying with a new password");
    expect((await jitOuContents()).some((d) => d.includes(user))).toBe(false);
  });

  it('revoke does not fail on such a rotation password: it sets its own random one instead', async () => {
    const target = activeDirectoryConnector.create(configFor());
    const user = `q${hex(3)}_jit`;
    const password = pw();
    const { handle } = await target.grant(ctx, grantSpec(user, { password }));
    const rotatePassword = `Xy9-${user}-z`;
    await target.revoke(ctx, { grantId: 'r', handle, retain: [], accountStillNeededUntil: null, rotatePassword });
    expect(await bindAs(dc, `CN=${user},${domain.jitOu}`, password)).toBe('52e');
    expect(await bindAs(dc, `CN=${user},${domain.jitOu}`, rotatePassword)).toBe('52e');
  });
});

describe('"Test connection" (check)', () => {
  it('with the documented delegation every item passes and the probe leaves nothing behind', async () => {
    const before = await jitOuContents();
    const report = await activeDirectoryConnector.create(configFor()).check(ctx);
    expect(report.items.map((i) => [i.name, i.ok])).toEqual([
      ['connection', true], ['authentication', true], ['base DN', true], ['JIT OU', true], ['create users', true],
      ['reset passwords', true], ['write account attributes', true], ['delete users', true], ['password policy', true],
    ]);
    expect(report.ok).toBe(true);
    expect(await jitOuContents()).toEqual(before);
  });

  it('says what is wrong: bad password (data 52e), missing OU, missing rights', async () => {
    const bad = await activeDirectoryConnector.create(configFor({ bindPassword: 'wrong-Password-1' })).check(ctx);
    expect(bad.items).toEqual([
      { name: 'connection', ok: true, message: `connected to ${dc.ldapsUrl} over TLS` },
      { name: 'authentication', ok: false, message: `bind failed: invalid credentials (data 52e: wrong password, or no such account); check bindDn ${domain.serviceDn} and bindPassword` },
    ]);

    const noOu = `OU=Nope,${dc.baseDn}`;
    const missing = await activeDirectoryConnector.create(configFor({ jitOu: noOu })).check(ctx);
    expect(missing.items.find((i) => i.name === 'JIT OU')).toEqual({ name: 'JIT OU', ok: false, message: `the JIT OU ${noOu} does not exist` });

    const plainDn = `CN=plain-${hex(2)},CN=Users,${dc.baseDn}`;
    const plainPw = pw();
    await addUser(plainDn, plainDn.slice(3, plainDn.indexOf(',')), { unicodePwd: Buffer.from(`"${plainPw}"`, 'utf16le') as unknown as string, userAccountControl: '512' });
    const weak = await activeDirectoryConnector.create(configFor({ bindDn: plainDn, bindPassword: plainPw })).check(ctx);
    expect(weak.ok).toBe(false);
    expect(weak.items.find((i) => i.name === 'create users')).toMatchObject({
      ok: false,
      message: expect.stringContaining(`the service account cannot create user objects in ${domain.jitOu}: delegate "Create User objects" on that OU`),
    });
  });

  it('never skips certificate checks: a foreign CA or a wrong name fails, StartTLS on 389 works', async () => {
    const foreign = await activeDirectoryConnector.create(configFor({ caPem: rootCertificates[0] })).check(ctx);
    expect(foreign.items[0]).toMatchObject({ name: 'connection', ok: false, message: expect.stringMatching(/TLS certificate is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED/) });

    const wrongName = await activeDirectoryConnector.create(configFor({ tlsServerName: 'dc9.timebox.test' })).check(ctx);
    expect(wrongName.items[0]?.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID.*tlsServerName/);
    // The certificate names the DC, not its address: without tlsServerName the IP is checked and fails.
    const byIp = await activeDirectoryConnector.create(configFor({ tlsServerName: undefined })).check(ctx);
    expect(byIp.items[0]?.ok).toBe(false);

    const startTls = await activeDirectoryConnector.create(configFor({ url: `ldap://${dc.host}:389`, startTls: true })).check(ctx);
    expect(startTls.ok).toBe(true);
    const startTlsWrongName = await activeDirectoryConnector.create(configFor({ url: `ldap://${dc.host}:389`, startTls: true, tlsServerName: 'dc9.timebox.test' })).check(ctx);
    expect(startTlsWrongName.items[0]?.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
  });
});

describe('listEntitlements', () => {
  it('lists security groups by DN, searches names literally and pages without gaps or repeats', async () => {
    const ou = domain.groupsOu;
    for (const [cn, type] of [['Ops (a*b)', '-2147483646'], ['Ops aXb', '-2147483646'], ['Ops Newsletter', '2']] as const) {
      await admin.add(`CN=${cn},${ou}`, { objectClass: ['top', 'group'], groupType: type, sAMAccountName: `ops-${hex(3)}` });
    }
    const target = activeDirectoryConnector.create(configFor());
    const names = async (search: string) => (await target.listEntitlements(ctx, { search, limit: 100 })).items.map((i) => i.displayName);
    expect(await names('a*b')).toEqual(['Ops (a*b)']);
    expect(await names('ops')).toEqual(['Ops (a*b)', 'Ops aXb']); // not the distribution list
    expect(await names(')(')).toEqual([]);
    expect(await names('\\')).toEqual([]);

    const found = (await target.listEntitlements(ctx, { search: 'Tier1', limit: 10 })).items;
    expect(found).toEqual([{ externalId: domain.groups[0], displayName: 'Tier1 Server Admins', description: domain.groups[0] }]);

    const all = (await target.listEntitlements(ctx, { limit: 500 })).items.map((i) => i.externalId);
    expect(all.length).toBeGreaterThan(30); // the built-in groups too (Domain Admins, ...)
    expect(all).toContain(`CN=Domain Admins,CN=Users,${dc.baseDn}`);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await target.listEntitlements(ctx, { cursor, limit: 7 });
      expect(page.items.length).toBeLessThanOrEqual(7);
      paged.push(...page.items.map((i) => i.externalId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all);
  });
});

describe('deleteAfterIdleDays', () => {
  it('a revoke deletes JIT accounts disabled for longer than that, and nothing else', async () => {
    const target = activeDirectoryConnector.create(configFor({ deleteAfterIdleDays: 30 }));
    const revoke = (handle: Record<string, unknown>) =>
      target.revoke(ctx, { grantId: 'r', handle, retain: [], accountStillNeededUntil: null, rotatePassword: pw() });
    const old = `old${hex(3)}_jit`;
    const recent = `new${hex(3)}_jit`;
    await revoke((await target.grant(ctx, grantSpec(old))).handle);
    const fortyDaysAgo = ((BigInt(Date.now() - 40 * 86_400_000) + FILETIME_1601_MS) * 10_000n).toString();
    const set = (dn: string) => admin.modify(dn, [new Change({ operation: 'replace', modification: new Attribute({ type: 'accountExpires', values: [fortyDaysAgo] }) })]);
    await set(`CN=${old},${domain.jitOu}`);
    const foreign = `CN=not_ours_${hex(2)},${domain.jitOu}`;
    await addUser(foreign, foreign.slice(3, foreign.indexOf(',')), { userAccountControl: '514' });
    await set(foreign);

    await revoke((await target.grant(ctx, grantSpec(recent))).handle);
    const left = await jitOuContents();
    expect(left).not.toContain(`CN=${old},${domain.jitOu}`);
    expect(left).toContain(`CN=${recent},${domain.jitOu}`);
    expect(left).toContain(foreign);
    // A later grant simply creates the account again.
    const again = await target.grant(ctx, grantSpec(old));
    expect(again.handle).toMatchObject({ dn: `CN=${old},${domain.jitOu}` });
  });

  it("sweeps only its own installation's idle accounts: another deployment sharing the JIT OU keeps its own", async () => {
    const target = activeDirectoryConnector.create(configFor({ deleteAfterIdleDays: 30 }));
    const ours = randomUUID();
    const theirs = randomUUID();
    const fortyDaysAgo = ((BigInt(Date.now() - 40 * 86_400_000) + FILETIME_1601_MS) * 10_000n).toString();
    const idleAccount = async (installation: string) => {
      const name = `idl${hex(3)}_jit`;
      const dn = `CN=${name},${domain.jitOu}`;
      await addUser(dn, name, { userAccountControl: '514', accountExpires: fortyDaysAgo, description: `Timebox JIT account ${installation}/${randomUUID()} of someone (managed by Timebox)` });
      return dn;
    };
    const ourIdle = await idleAccount(ours);
    const theirIdle = await idleAccount(theirs);
    const mine = `swp${hex(3)}_jit`;
    const owner = { installationId: ours, accountId: randomUUID() };
    const g = await target.grant(ctx, grantSpec(mine, { account: { username: mine, ownerDisplay: 'Dana Admin <dana@example.test>', owner } }));
    await target.revoke(ctx, { grantId: 'r', handle: g.handle, retain: [], accountStillNeededUntil: null, rotatePassword: pw() });
    const left = await jitOuContents();
    expect(left).not.toContain(ourIdle);
    expect(left).toContain(theirIdle);
  });
});
