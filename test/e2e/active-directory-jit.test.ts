/**
 * Active Directory JIT accounts through Timebox, from the outside, against a real Samba AD DC:
 * an admin connects the domain and sets the tenant's JIT settings (groups picked from the live
 * list, who may create accounts); people ask through the API; the JIT account logs on over LDAPS
 * during the grant and not after; it is enabled again with a new reason; names AD would refuse
 * (or an existing account's name) are refused before anything reaches the directory; and drift
 * made behind Timebox's back is found and repaired by the reconciler.
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Change, type Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JitDomain, type SambaDc, adminClient, bindAs, prepareJitDomain, startSambaDc } from '../harness/samba.js';
import type { ApiClient } from '../support/http.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import { adTargetConfig } from '../support/ad-target.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');

let dc: SambaDc;
let domain: JitDomain;
let ldap: Client;
let server: TestServer;
let targetId = '';
let tier1 = '';
let backup = '';
let finance = '';
let bob: ApiClient; // in the "helpdesk" operator group: may create JIT accounts
let alice: ApiClient; // requester, in no group: may not
let carol: ApiClient; // in "helpdesk", never gets an account (bad names)

const upn = (user: string) => `${user}@${dc.realm.toLowerCase()}`;
const put = (c: ApiClient, path: string, body: unknown) => c.call('PUT', path, body);
const settingsPath = () => `${T}/targets/${targetId}/jit-settings`;

async function entry(dn: string, attributes: string[]) {
  const { searchEntries } = await ldap.search(dn, { scope: 'base', attributes });
  return searchEntries[0]!;
}
async function members(group: string): Promise<string[]> {
  const m = (await entry(group, ['member'])).member ?? [];
  return (Array.isArray(m) ? m : [m]).map(String);
}
async function jitOuContents(): Promise<string[]> {
  const { searchEntries } = await ldap.search(domain.jitOu, { scope: 'one', attributes: ['cn'] });
  return searchEntries.map((e) => e.dn).sort();
}
const replace = (type: string, value: string) => new Change({ operation: 'replace', modification: new Attribute({ type, values: [value] }) });
const addTo = (group: string, dn: string) =>
  ldap.modify(group, [new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [dn] }) })]);
const removeFrom = (group: string, dn: string) =>
  ldap.modify(group, [new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [dn] }) })]);
const FILETIME_1601_MS = 11_644_473_600_000n;
const fromFileTime = (v: unknown) => new Date(Number(BigInt(String(v)) / 10_000n - FILETIME_1601_MS));

async function operatorId(c: ApiClient): Promise<string> {
  return (await c.get('/api/v1/me')).body.operator.id;
}
async function auditActions(filter = ''): Promise<Array<{ action: string; after: any; reason: string | null }>> {
  return (await server.admin.get(`${T}/audit?limit=200${filter}`)).body.items;
}

beforeAll(async () => {
  dc = await startSambaDc();
  domain = await prepareJitDomain(dc);
  ldap = await adminClient(dc);
  // The reconciler's timer is off: the test runs it when it wants (POST /reconcile).
  server = await startTestServer({ env: { TIMEBOX_RECONCILE_MS: '0' } });
  bob = await addOperator(server, `bob.${hex}@example.com`, ['requester']);
  alice = await addOperator(server, `alice.${hex}@example.com`, ['requester']);
  carol = await addOperator(server, `carol.${hex}@example.com`, ['requester']);
});

afterAll(async () => {
  await server?.close();
  await ldap?.unbind();
  await dc?.destroy();
});

describe('Active Directory JIT accounts through Timebox', () => {
  it('connects the domain with the delegated service account and lists its groups', async () => {
    const added = await server.admin.post(`${T}/targets`, {
      name: 'corp-ad',
      kind: 'active-directory',
      config: adTargetConfig(dc, domain),
    });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body.check.ok).toBe(true);
    targetId = added.body.target.id;
    // Picked the way the settings screen does: search the live list, take the DN.
    const pick = async (search: string) => {
      const r = await server.admin.get(`${T}/targets/${targetId}/entitlements?search=${encodeURIComponent(search)}`);
      expect(r.status).toBe(200);
      expect(r.body.items).toHaveLength(1);
      return r.body.items[0].externalId as string;
    };
    tier1 = await pick('Tier1 Server');
    backup = await pick('Backup Admins');
    finance = await pick('Finance Readers');
    expect([tier1, backup, finance]).toEqual([...domain.groups, domain.unmanagedGroup]);

    const policy = await server.admin.post(`${T}/policies`, {
      name: 'ad admins',
      targetId,
      requesterRoles: ['requester'],
      maxDurationSeconds: 4 * 3600,
      defaultDurationSeconds: 3600,
    });
    expect(policy.status).toBe(201);
  });

  it('JIT settings: owner/admin only, groups must exist on the target, editable in place, audited', async () => {
    expect((await server.admin.get(settingsPath())).body).toMatchObject({ configured: false, enabled: false, allowedGroups: [] });
    const helpdesk = await server.admin.post(`${T}/groups`, { name: 'helpdesk', memberIds: [await operatorId(bob), await operatorId(carol)] });
    expect(helpdesk.status).toBe(201);

    const refused = await put(bob, settingsPath(), { enabled: true, allowedGroups: [tier1], creatorGroupIds: [] });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/targets\.manage/);

    const ghost = `CN=No Such Group,${domain.groupsOu}`;
    const missing = await put(server.admin, settingsPath(), { enabled: true, allowedGroups: [tier1, ghost], creatorGroupIds: [] });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toContain(`has no group "${ghost}"`);
    const notDn = await put(server.admin, settingsPath(), { enabled: true, allowedGroups: ['Tier1 Server Admins'], creatorGroupIds: [] });
    expect(notDn.status).toBe(400);
    expect(notDn.body.error.message).toMatch(/group distinguished names/);
    const unknownGroup = '00000000-0000-4000-8000-000000000000';
    const noOperatorGroup = await put(server.admin, settingsPath(), { enabled: true, allowedGroups: [tier1], creatorGroupIds: [unknownGroup] });
    expect(noOperatorGroup.status).toBe(400);
    expect(noOperatorGroup.body.error.message).toContain(`no operator group with id "${unknownGroup}"`);
    const empty = await put(server.admin, settingsPath(), { enabled: true, allowedGroups: [], creatorGroupIds: [] });
    expect(empty.status).toBe(400);

    const saved = await put(server.admin, settingsPath(), { enabled: true, allowedGroups: [tier1], creatorGroupIds: [helpdesk.body.id] });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body).toMatchObject({ configured: true, enabled: true, allowedGroups: [tier1], creatorGroupIds: [helpdesk.body.id] });
    // Changed without disabling first (the seeds' product needs disable + re-enable).
    const edited = await put(server.admin, settingsPath(), { enabled: true, allowedGroups: [tier1, backup], creatorGroupIds: [helpdesk.body.id] });
    expect(edited.status).toBe(200);
    expect((await server.admin.get(settingsPath())).body.allowedGroups).toEqual([tier1, backup]);

    const events = (await auditActions('&action=jit_settings.updated')).filter((e) => e.action === 'jit_settings.updated');
    expect(events).toHaveLength(2);
    expect(events[0]!.after).toMatchObject({ enabled: true, allowedGroups: [tier1, backup] });
  });

  it('refuses a group the settings do not allow (422) and a person they do not permit (403)', async () => {
    const before = await jitOuContents();
    const group = await bob.post(`${T}/requests`, { targetId, entitlements: [finance], durationSeconds: 1800, reason: 'INC-1 read finance' });
    expect(group.status).toBe(422);
    expect(group.body.error.message).toBe(`JIT accounts on target "corp-ad" may only get the groups chosen in its JIT settings; not allowed: "${finance}"`);
    const person = await alice.post(`${T}/requests`, { targetId, entitlements: [tier1], durationSeconds: 1800, reason: 'INC-2 patch servers' });
    expect(person.status).toBe(403);
    expect(person.body.error.message).toMatch(/^you may not create or enable JIT accounts on target "corp-ad"/);
    expect(await jitOuContents()).toEqual(before);
    expect((await server.admin.get(`${T}/jit-accounts`)).body.items).toEqual([]);
  });

  let grantId = '';
  let password = '';
  let accountDn = '';

  it('the JIT account logs on during the grant; after the end it is refused, out of the group, and the old password is dead', async () => {
    const res = await bob.post(`${T}/requests`, {
      targetId,
      entitlements: [tier1],
      durationSeconds: 1800,
      reason: 'INC-4711 patch the file servers',
      accountName: 'bob_jit',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ state: 'active', username: 'bob_jit', entitlements: [tier1] });
    grantId = res.body.id;
    const cred = await bob.post(`${T}/grants/${grantId}/credential`);
    expect(cred.status).toBe(200);
    expect(cred.body.username).toBe('bob_jit');
    password = cred.body.password;
    accountDn = `CN=bob_jit,${domain.jitOu}`;

    expect(await bindAs(dc, upn('bob_jit'), password)).toBe('ok');
    expect(await members(tier1)).toContain(accountDn);
    const during = await entry(accountDn, ['userAccountControl', 'accountExpires', 'description']);
    expect(during.userAccountControl).toBe('512');
    // The native backstop is the end of the grant.
    const grant = (await bob.get(`${T}/grants/${grantId}`)).body;
    expect(fromFileTime(during.accountExpires).toISOString()).toBe(grant.expiresAt);
    // The ownership marker: this installation and bob's JIT account, then who and why.
    const bobAccount = (await bob.get(`${T}/jit-accounts?mine=true`)).body.items[0];
    expect(String(during.description)).toMatch(new RegExp(`^Timebox JIT account [0-9a-f-]{36}/${bobAccount.id} of bob\\.`));

    server.clock.shift(1800_000 + 1_000);
    await server.tb.scheduler.drain();

    expect((await bob.get(`${T}/grants/${grantId}`)).body).toMatchObject({ state: 'revoked', endReason: 'expired' });
    // The password was rotated (so the DC says wrong password, 52e) and the account is disabled (514).
    expect(await bindAs(dc, upn('bob_jit'), password)).toBe('52e');
    expect(await members(tier1)).not.toContain(accountDn);
    const after = await entry(accountDn, ['userAccountControl', 'accountExpires']);
    expect(after.userAccountControl).toBe('514');
    expect(fromFileTime(after.accountExpires).getTime()).toBeLessThanOrEqual(Date.now());
    const accounts = (await bob.get(`${T}/jit-accounts`)).body.items;
    expect(accounts).toEqual([expect.objectContaining({ username: 'bob_jit', status: 'disabled' })]);
  });

  it('drift on an idle account (enabled by hand, a group added, expiry cleared) is found and repaired', async () => {
    const byHand = `ByHand-${randomBytes(9).toString('base64url')}7a`;
    await ldap.modify(accountDn, [replace('userAccountControl', '512'), replace('accountExpires', '0')]);
    await ldap.modify(accountDn, [new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [Buffer.from(`"${byHand}"`, 'utf16le')] }) })]);
    await addTo(backup, accountDn);
    expect(await bindAs(dc, upn('bob_jit'), byHand)).toBe('ok');

    expect((await alice.post(`${T}/reconcile`)).status).toBe(403);
    const run = await server.admin.post(`${T}/reconcile`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ checked: 1, drifted: 1, repaired: 1, failed: 0 });

    expect(await bindAs(dc, upn('bob_jit'), byHand)).toBe('52e');
    expect((await entry(accountDn, ['userAccountControl'])).userAccountControl).toBe('514');
    expect(await members(backup)).not.toContain(accountDn);
    const events = await auditActions('&action=drift.*');
    expect(events.map((e) => e.action)).toEqual(['drift.repaired', 'drift.detected']);
    expect(events[0]!.after.findings).toEqual(
      expect.arrayContaining([
        { kind: 'login', subject: 'bob_jit', expected: 'disabled', actual: 'enabled' },
        { kind: 'expiry', subject: 'bob_jit', expected: expect.any(String), actual: null },
        { kind: 'entitlement', subject: backup, expected: 'absent', actual: 'present' },
      ]),
    );

    const again = await server.admin.post(`${T}/reconcile`);
    expect(again.body).toMatchObject({ checked: 1, drifted: 0, repaired: 0, failed: 0 });
  });

  it('disabled settings refuse new JIT account grants with a clear message', async () => {
    const off = await put(server.admin, settingsPath(), { enabled: false, allowedGroups: [tier1, backup], creatorGroupIds: (await server.admin.get(settingsPath())).body.creatorGroupIds });
    expect(off.status).toBe(200);
    const account = (await bob.get(`${T}/jit-accounts`)).body.items[0];
    const refused = await bob.post(`${T}/jit-accounts/${account.id}/enable`, { reason: 'INC-4712 follow-up' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/^JIT accounts are disabled for this target \("corp-ad"\)/);
    const on = await put(server.admin, settingsPath(), { enabled: true, allowedGroups: off.body.allowedGroups, creatorGroupIds: off.body.creatorGroupIds });
    expect(on.status, JSON.stringify(on.body)).toBe(200);
  });

  let second = '';
  let secondPassword = '';

  it('enables the same account again with a new reason: a new password works, the old one does not', async () => {
    const account = (await bob.get(`${T}/jit-accounts`)).body.items[0];
    const res = await bob.post(`${T}/jit-accounts/${account.id}/enable`, { reason: 'INC-4712 follow-up on the file servers', durationSeconds: 3600 });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ state: 'active', username: 'bob_jit', entitlements: [tier1] });
    second = res.body.id;
    secondPassword = (await bob.post(`${T}/grants/${second}/credential`)).body.password;
    expect(secondPassword).not.toBe(password);
    expect(await bindAs(dc, upn('bob_jit'), secondPassword)).toBe('ok');
    expect(await bindAs(dc, upn('bob_jit'), password)).toBe('52e');
    expect(await members(tier1)).toContain(accountDn);
    expect(await jitOuContents()).toEqual([accountDn]);
  });

  it('while a grant is live, a group added by hand is removed and the granted one kept; a group it may not change raises an alert', async () => {
    await addTo(backup, accountDn);
    const run = await server.admin.post(`${T}/reconcile`);
    expect(run.body).toMatchObject({ checked: 1, drifted: 1, repaired: 1, failed: 0 });
    expect(await members(backup)).not.toContain(accountDn);
    expect(await members(tier1)).toContain(accountDn);
    expect(await bindAs(dc, upn('bob_jit'), secondPassword)).toBe('ok');

    // The service account has no right on Finance Readers: Timebox cannot undo this, a person must.
    await addTo(finance, accountDn);
    const failed = await server.admin.post(`${T}/reconcile`);
    expect(failed.body).toMatchObject({ checked: 1, drifted: 1, repaired: 0, failed: 1 });
    const alerts = (await server.admin.get(`${T}/alerts`)).body.items;
    expect(alerts).toEqual([
      expect.objectContaining({ severity: 'critical', grantId: second, message: expect.stringMatching(/^Drift on JIT account bob_jit \(target corp-ad\) could not be repaired: .*insufficient access rights \(50\) while removing .* from group CN=Finance Readers/) }),
    ]);
    expect((await auditActions('&action=drift.repair_failed'))).toHaveLength(1);
    expect(await bindAs(dc, upn('bob_jit'), secondPassword)).toBe('ok');

    await removeFrom(finance, accountDn);
    const clean = await server.admin.post(`${T}/reconcile`);
    expect(clean.body).toMatchObject({ checked: 1, drifted: 0, failed: 0 });
    expect((await server.admin.get(`${T}/alerts`)).body.items).toEqual([]);

    const ended = await bob.post(`${T}/grants/${second}/revoke`, { reason: 'finished early' });
    expect(ended.body).toMatchObject({ state: 'revoked', endReason: 'finished early' });
    expect(await bindAs(dc, upn('bob_jit'), secondPassword)).toBe('52e');
    expect(await members(tier1)).not.toContain(accountDn);
  });

  it('refuses names Active Directory would refuse, and an existing account, before anything reaches the directory', async () => {
    const administrator = async () => entry(dc.adminDn, ['userAccountControl', 'description', 'memberOf', 'pwdLastSet']);
    const adminBefore = await administrator();
    const before = await jitOuContents();
    const ask = (accountName: string) =>
      carol.post(`${T}/requests`, { targetId, entitlements: [tier1], durationSeconds: 900, reason: 'INC-9 names', accountName });
    const cases: Array<[string, number, RegExp]> = [
      ['christopher_longe_jit', 400, /at most 20 characters, the Active Directory limit for sAMAccountName; "christopher_longe_jit" has 21/],
      ['carol,jit', 400, /contains ",", which Active Directory does not allow/],
      ['carol"jit', 400, /contains """, which Active Directory does not allow/],
      ['carol*jit', 400, /contains "\*", which Active Directory does not allow/],
      ['carol)(jit', 400, /may only contain ASCII letters, digits, "_", "-" and "\."/],
      ['jörg_jit', 400, /contains "ö": Timebox accepts only ASCII/],
      ['Administrator', 400, /^"Administrator" is a built-in Active Directory account or well-known principal and cannot be a JIT account/],
      ['svc-timebox', 409, /^the account name "svc-timebox" is already in use on target "corp-ad" \(.*not a Timebox JIT account\); Timebox will not take it over/],
    ];
    for (const [name, status, message] of cases) {
      const res = await ask(name);
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.error.message, name).toMatch(message);
    }
    expect(await jitOuContents()).toEqual(before);
    expect(await administrator()).toEqual(adminBefore);
    const accounts = (await server.admin.get(`${T}/jit-accounts`)).body.items;
    expect(accounts.map((a: { username: string }) => a.username)).toEqual(['bob_jit']);
    expect((await server.admin.get(`${T}/grants?limit=200`)).body.items).toHaveLength(2);
  });

  it('deletes the ended JIT account from the domain on request; a live grant blocks it', async () => {
    const account = (await bob.get(`${T}/jit-accounts`)).body.items[0];
    const deleted = await bob.call('DELETE', `${T}/jit-accounts/${account.id}`);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(204);
    expect(await jitOuContents()).toEqual([]);
    expect(await bindAs(dc, upn('bob_jit'), secondPassword)).not.toBe('ok');
    expect((await bob.get(`${T}/jit-accounts`)).body.items).toEqual([]);
    const accounts = (await server.admin.get(`${T}/jit-accounts`)).body.items;
    expect(accounts.map((a: { username: string }) => a.username)).toEqual([]);
  });

  it('records every step in the audit log without a password, and the chain verifies', async () => {
    const events = await auditActions();
    const actions = events.map((e) => e.action);
    for (const a of ['target.created', 'jit_settings.updated', 'jit_account.created', 'grant.active', 'grant.revoked', 'drift.detected', 'drift.repaired', 'drift.repair_failed', 'jit_account.deleted']) {
      expect(actions).toContain(a);
    }
    const text = JSON.stringify(events);
    expect(text).not.toContain(password);
    expect(text).not.toContain(secondPassword);
    expect(text).not.toContain(domain.servicePassword);
    expect((await server.admin.post('/api/v1/audit/verify')).body).toMatchObject({ ok: true, problems: [] });
  });
});
