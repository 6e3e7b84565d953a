/**
 * Temporary group membership of an EXISTING directory user through Timebox (`active-directory-groups`),
 * real Samba AD DC: the user gains the group for the grant and loses it at the end; overlapping
 * grants are counted (the first expiry keeps what the second still holds); the user's own account
 * is never changed; and a membership re-added by hand after the end is taken away by the reconciler.
 * A person gets groups only on a user the directory shows to be theirs (its userPrincipalName is
 * their address) or whose binding another administrator confirmed: naming a
 * colleague's user gets the namer nothing and changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Change, type Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JitDomain, type SambaDc, adminClient, bindAs, prepareJitDomain, startSambaDc } from '../harness/samba.js';
import type { ApiClient } from '../support/http.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
let dc: SambaDc;
let domain: JitDomain;
let ldap: Client;
let server: TestServer;
let dana: ApiClient;
let mallory: ApiClient;
let erin: ApiClient;
let erinEmail = '';
let targetId = '';
const userDn = () => `CN=Dana Admin,CN=Users,${dc.baseDn}`;
const userPassword = `Dana-${randomBytes(9).toString('base64url')}5x`;

/** The user named dana.admin (a new directory object each time). */
async function addDanasUser(description: string) {
  await ldap.add(userDn(), {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    sAMAccountName: 'dana.admin',
    description,
    unicodePwd: Buffer.from(`"${userPassword}"`, 'utf16le') as unknown as string,
    userAccountControl: '512',
  });
}

async function groupsOfUser(): Promise<string[]> {
  const { searchEntries } = await ldap.search(userDn(), { scope: 'base', attributes: ['memberOf'] });
  const m = searchEntries[0]?.memberOf ?? [];
  return (Array.isArray(m) ? m : [m]).map(String).sort();
}
async function userState() {
  const { searchEntries } = await ldap.search(userDn(), { scope: 'base', attributes: ['userAccountControl', 'pwdLastSet', 'accountExpires', 'description'] });
  return searchEntries[0];
}

beforeAll(async () => {
  dc = await startSambaDc();
  domain = await prepareJitDomain(dc);
  ldap = await adminClient(dc);
  await addDanasUser('Dana, server team');
  server = await startTestServer({ env: { TIMEBOX_RECONCILE_MS: '0' } });
  dana = await addOperator(server, `dana.${randomBytes(3).toString('hex')}@example.com`, ['requester']);
  mallory = await addOperator(server, `mallory.${randomBytes(3).toString('hex')}@example.com`, ['requester']);
  erinEmail = `erin.${randomBytes(3).toString('hex')}@example.com`;
  erin = await addOperator(server, erinEmail, ['requester']);
  // Erin signs in to the domain as her address: the directory itself says the user is hers.
  await ldap.add(`CN=Erin Ops,CN=Users,${dc.baseDn}`, {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    sAMAccountName: 'erin.ops',
    userPrincipalName: erinEmail.toUpperCase(),
    unicodePwd: Buffer.from(`"${userPassword}"`, 'utf16le') as unknown as string,
    userAccountControl: '512',
  });
});
afterAll(async () => {
  await server?.close();
  await ldap?.unbind();
  await dc?.destroy();
});

describe('temporary group membership of an existing user', () => {
  it('connects the domain for group membership; JIT account settings do not apply to it', async () => {
    const { jitOu: _unused, ...rest } = {
      url: dc.ldapsUrl, bindDn: domain.serviceDn, bindPassword: domain.servicePassword, caPem: dc.caPem,
      tlsServerName: dc.tlsServerName, baseDn: dc.baseDn, jitOu: domain.jitOu, connectTimeoutMs: 2000,
    };
    const added = await server.admin.post(`${T}/targets`, { name: 'corp-groups', kind: 'active-directory-groups', config: rest });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body.check.ok).toBe(true);
    targetId = added.body.target.id;
    const settings = await server.admin.call('PUT', `${T}/targets/${targetId}/jit-settings`, { enabled: true, allowedGroups: [domain.groups[0]], creatorGroupIds: [] });
    expect(settings.status).toBe(400);
    expect(settings.body.error.message).toMatch(/creates no JIT accounts/);
    // A group the target could never grant (outside its baseDn): said when the policy is written.
    const elsewhere = await server.admin.post(`${T}/policies`, {
      name: 'elsewhere', targetId, entitlements: ['CN=Domain Admins,CN=Users,DC=elsewhere,DC=test'], requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1800,
    });
    expect(elsewhere.status, JSON.stringify(elsewhere.body)).toBe(400);
    expect(elsewhere.body.error.message).toBe(`invalid policy: group CN=Domain Admins,CN=Users,DC=elsewhere,DC=test is outside the target's baseDn ${dc.baseDn}; Timebox only grants groups under it`);
    const policy = await server.admin.post(`${T}/policies`, {
      name: 'groups', targetId, requesterRoles: ['requester'], maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 1800,
    });
    expect(policy.status).toBe(201);
  });

  it("naming a colleague's user gets nothing; the user's own address or an administrator's confirmation lets its owner in", async () => {
    const [tier1] = domain.groups;
    const ask = (who: ApiClient, accountName: string) =>
      who.post(`${T}/requests`, { targetId, entitlements: [tier1], durationSeconds: 1800, reason: 'INC-19 patching', accountName });
    const bindingOf = async (who: ApiClient) => (await who.get(`${T}/jit-accounts?mine=true`)).body.items.find((a: { targetId: string }) => a.targetId === targetId);

    // Mallory names Dana's user: the activation is refused before the directory changes.
    const taken = await ask(mallory, 'dana.admin');
    expect(taken.status, JSON.stringify(taken.body)).toBe(201);
    expect(taken.body.state).toBe('failed');
    expect(taken.body.endReason).toMatch(/^activation refused by the target: the directory does not show that user "dana\.admin" is mallory\.\w+@example\.com's/);
    expect(await groupsOfUser()).toEqual([]);
    // The name stays held by Mallory's binding until an administrator deletes it (audited as theirs).
    const squat = await bindingOf(mallory);
    expect(squat).toMatchObject({ username: 'dana.admin', confirmedAt: null });
    expect((await server.admin.call('DELETE', `${T}/jit-accounts/${squat.id}`)).status).toBe(204);

    // Dana's own user carries no address of hers: refused too, until an administrator confirms it.
    const unproved = await ask(dana, 'dana.admin');
    expect(unproved.body.state, JSON.stringify(unproved.body)).toBe('failed');
    expect(await groupsOfUser()).toEqual([]);
    const binding = await bindingOf(dana);
    const self = await dana.post(`${T}/jit-accounts/${binding.id}/confirm`);
    expect(self.status).toBe(403);
    const confirmed = await server.admin.post(`${T}/jit-accounts/${binding.id}/confirm`);
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
    expect((await bindingOf(dana)).confirmedAt).toBe(confirmed.body.confirmedAt);

    // Erin's user signs in as her address (in other letter case): active at once, no confirmation.
    const own = await ask(erin, 'erin.ops');
    expect(own.body.state, JSON.stringify(own.body)).toBe('active');
    expect((await bindingOf(erin)).confirmedAt).toBeNull();
    expect((await erin.post(`${T}/grants/${own.body.id}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
  });

  it('gains the group for the grant and loses it at the end; overlapping grants are counted', async () => {
    const [tier1, backup] = domain.groups;
    const before = await userState();
    expect(await groupsOfUser()).toEqual([]);

    const first = await dana.post(`${T}/requests`, {
      targetId, entitlements: [tier1], durationSeconds: 1800, reason: 'INC-20 patching', accountName: 'dana.admin',
    });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ state: 'active', username: 'dana.admin', credentialAvailable: false });
    expect(await groupsOfUser()).toEqual([tier1]);

    // A second, longer grant on the same account holds Tier1 too, and Backup Admins.
    const second = await dana.post(`${T}/requests`, {
      targetId, entitlements: [tier1, backup], durationSeconds: 3600, reason: 'INC-21 patching and backups',
    });
    expect(second.status, JSON.stringify(second.body)).toBe(201);
    expect(second.body.state).toBe('active');
    expect(await groupsOfUser()).toEqual([backup, tier1].sort());

    server.clock.shift(1800_000 + 1_000);
    await server.tb.scheduler.drain();
    expect((await dana.get(`${T}/grants/${first.body.id}`)).body.state).toBe('revoked');
    // The first grant's end takes nothing the second still holds.
    expect(await groupsOfUser()).toEqual([backup, tier1].sort());

    server.clock.shift(1800_000);
    await server.tb.scheduler.drain();
    expect((await dana.get(`${T}/grants/${second.body.id}`)).body.state).toBe('revoked');
    expect(await groupsOfUser()).toEqual([]);

    // The person's own account: never disabled, expired or given another password.
    expect(await userState()).toEqual(before);
    expect(await bindAs(dc, `dana.admin@${dc.realm.toLowerCase()}`, userPassword)).toBe('ok');
  });

  it('a membership re-added by hand after the end is taken away again by the reconciler', async () => {
    await ldap.modify(domain.groups[1], [new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [userDn()] }) })]);
    const run = await server.admin.post(`${T}/reconcile`);
    // Dana's and Erin's ended grants are checked; Dana's membership drifted.
    expect(run.body).toMatchObject({ checked: 2, drifted: 1, repaired: 1, failed: 0 });
    expect(await groupsOfUser()).toEqual([]);
    const events = (await server.admin.get(`${T}/audit?action=drift.*`)).body.items;
    expect(events[0]).toMatchObject({ action: 'drift.repaired' });
    expect(events[0].after.findings).toEqual([{ kind: 'entitlement', subject: domain.groups[1], expected: 'absent', actual: 'present' }]);
  });
  it('a user deleted and created again under the confirmed name is not the one confirmed: refused, the confirmation withdrawn, then confirmed again', async () => {
    const [tier1] = domain.groups;
    const ask = () => dana.post(`${T}/requests`, { targetId, entitlements: [tier1], durationSeconds: 1800, reason: 'INC-21 patching', accountName: 'dana.admin' });
    const binding = async () => (await dana.get(`${T}/jit-accounts?mine=true`)).body.items.find((a: { targetId: string }) => a.targetId === targetId);
    expect((await binding()).confirmedAt).not.toBeNull();
    // Dana's grants so far were on this object; someone with directory rights replaces it.
    await ldap.del(userDn());
    await addDanasUser('not Dana any more');
    const refused = await ask();
    expect(refused.body.state, JSON.stringify(refused.body)).toBe('failed');
    expect(refused.body.endReason).toMatch(/^activation refused by the target: the directory user "dana\.admin" is not the one an administrator confirmed/);
    expect(await groupsOfUser()).toEqual([]);
    const withdrawn = await binding();
    expect(withdrawn.confirmedAt).toBeNull();
    // An administrator looks and confirms the new user as Dana's: the next request gets in.
    expect((await server.admin.post(`${T}/jit-accounts/${withdrawn.id}/confirm`)).status).toBe(200);
    const again = await ask();
    expect(again.body.state, JSON.stringify(again.body)).toBe('active');
    expect(await groupsOfUser()).toEqual([tier1]);
    expect((await dana.post(`${T}/grants/${again.body.id}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
    expect(await groupsOfUser()).toEqual([]);
  });

  it('pointing the target at other users (another DC, another subtree) clears the confirmations', async () => {
    const binding = (await dana.get(`${T}/jit-accounts?mine=true`)).body.items.find((a: { targetId: string }) => a.targetId === targetId);
    expect(binding.confirmedAt).not.toBeNull();
    // A rename alone leaves it: names still lead to the same users.
    expect((await server.admin.call('PUT', `${T}/targets/${targetId}`, { name: 'corp-groups-renamed' })).status).toBe(200);
    expect((await dana.get(`${T}/jit-accounts?mine=true`)).body.items.find((a: { id: string }) => a.id === binding.id).confirmedAt).not.toBeNull();

    const moved = await server.admin.call('PUT', `${T}/targets/${targetId}`, { config: { baseDn: `CN=Users,${dc.baseDn}` }, saveUnchecked: true });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect((await dana.get(`${T}/jit-accounts?mine=true`)).body.items.find((a: { id: string }) => a.id === binding.id).confirmedAt).toBeNull();
    const [updated] = (await server.admin.get(`${T}/audit?action=target.updated`)).body.items;
    expect(updated.after).toMatchObject({ configKeysChanged: ['baseDn'], bindingConfirmationsCleared: 1 });
  });
});
