/**
 * Ownership of JIT accounts on Active Directory, attacked from the outside against a real Samba
 * AD DC: two targets share one JIT OU (and a second Timebox installation manages the same
 * domain). A second requester with only a policy on target B asks for the sAMAccountName of
 * another person's disabled JIT account of target A: refused before anything reaches the
 * directory, the account unchanged and still its owner's. Built-in accounts are reserved names.
 * Kept small: the DC is slow to start.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from 'ldapts';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type JitDomain, type SambaDc, adminClient, bindAs, prepareJitDomain, startSambaDc } from '../harness/samba.js';
import type { ApiClient } from '../support/http.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import { adTargetConfig } from '../support/ad-target.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');
const reason = 'CHG-77 patch the file servers';

let dc: SambaDc;
let domain: JitDomain;
let ldap: Client;
let s1: TestServer;
let s2: TestServer;
let victim: ApiClient;
let mallory: ApiClient;
let other: ApiClient;
const ids = { a: '', b: '', other: '' };

const upn = (user: string) => `${user}@${dc.realm.toLowerCase()}`;

/** What a takeover would change, as the DC holds it. */
async function account(name: string) {
  const { searchEntries } = await ldap.search(domain.jitOu, {
    scope: 'one',
    filter: `(sAMAccountName=${name})`,
    attributes: ['description', 'userAccountControl', 'pwdLastSet', 'accountExpires', 'memberOf', 'displayName'],
  });
  return searchEntries[0] ?? null;
}

async function addTarget(s: TestServer, name: string) {
  const res = await s.admin.post(`${T}/targets`, { name, kind: 'active-directory', config: adTargetConfig(dc, domain) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.target.id as string;
}
async function addPolicy(s: TestServer, name: string, targetId: string, role: string) {
  const res = await s.admin.post(`${T}/policies`, {
    name, targetId, requesterRoles: [role], maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 3600,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}
const ask = (c: ApiClient, targetId: string, accountName: string) =>
  c.post(`${T}/requests`, { targetId, entitlements: [domain.groups[0]], durationSeconds: 900, reason, accountName });

beforeAll(async () => {
  dc = await startSambaDc();
  domain = await prepareJitDomain(dc);
  ldap = await adminClient(dc);
  s1 = await startTestServer({ env: { TIMEBOX_RECONCILE_MS: '0' } });
  s2 = await startTestServer({ env: { TIMEBOX_RECONCILE_MS: '0' } });
  ids.a = await addTarget(s1, 'corp-a');
  ids.b = await addTarget(s1, 'corp-b'); // the same domain and JIT OU
  ids.other = await addTarget(s2, 'corp');
  victim = await addOperator(s1, `victim.${hex}@example.com`, ['approver']);
  mallory = await addOperator(s1, `mallory.${hex}@example.com`, ['requester']);
  other = await addOperator(s2, `other.${hex}@example.com`, ['requester']);
  await addPolicy(s1, 'a for approvers', ids.a, 'approver');
  await addPolicy(s1, 'b auto', ids.b, 'requester');
  await addPolicy(s2, 'corp auto', ids.other, 'requester');
}, 300_000);

afterAll(async () => {
  await Promise.allSettled([s1?.close(), s2?.close()]);
  await ldap?.unbind();
  await dc?.destroy();
});

it("refuses another person's disabled JIT account of a target sharing the JIT OU, from this and from another installation", async () => {
  const name = `v${hex}_jit`;
  const res = await ask(victim, ids.a, name);
  expect(res.body.state, JSON.stringify(res.body)).toBe('active');
  const cred = await victim.post(`${T}/grants/${res.body.id}/credential`);
  expect(await bindAs(dc, upn(name), cred.body.password)).toBe('ok');
  expect((await victim.post(`${T}/grants/${res.body.id}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
  const victimAccount = (await victim.get(`${T}/jit-accounts?mine=true`)).body.items[0];
  const before = await account(name);
  expect(String(before!.description)).toMatch(new RegExp(`^Timebox JIT account [0-9a-f-]{36}/${victimAccount.id} of `));

  const viaB = await ask(mallory, ids.b, name);
  expect(viaB.status, JSON.stringify(viaB.body)).toBe(409);
  expect(viaB.body.error.message).toBe(
    `the account name "${name}" is already used by another JIT account on a target that reaches the same server or domain as "corp-b"; choose another`,
  );
  // Case does not make it another name (AD compares sAMAccountNames ignoring case).
  expect((await ask(mallory, ids.b, name.toUpperCase())).status).toBe(409);
  // Another installation cannot know it from its store: the marker on the account refuses it.
  const viaOther = await ask(other, ids.other, name);
  expect(viaOther.status, JSON.stringify(viaOther.body)).toBe(409);
  expect(viaOther.body.error.message).toMatch(/\(it is a JIT account of another Timebox installation\); Timebox will not take it over/);

  expect((await mallory.get(`${T}/jit-accounts?mine=true`)).body.items).toEqual([]);
  expect((await other.get(`${T}/jit-accounts?mine=true`)).body.items).toEqual([]);
  expect(await account(name)).toEqual(before);

  // Still the victim's: enabled again with a new password, the old one refused.
  const again = await victim.post(`${T}/jit-accounts/${victimAccount.id}/enable`, { reason });
  expect(again.body.state, JSON.stringify(again.body)).toBe('active');
  const next = await victim.post(`${T}/grants/${again.body.id}/credential`);
  expect(await bindAs(dc, upn(name), next.body.password)).toBe('ok');
  expect(await bindAs(dc, upn(name), cred.body.password)).not.toBe('ok');
});

it('built-in accounts are reserved names: a 400 before anything reaches the directory', async () => {
  for (const name of ['krbtgt', 'Administrator', 'Guest']) {
    const res = await ask(mallory, ids.b, name);
    expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(400);
    expect(res.body.error.message).toBe(
      `"${name}" is a built-in Active Directory account or well-known principal and cannot be a JIT account; choose a personal name such as "ann_jit"`,
    );
  }
  expect((await mallory.get(`${T}/jit-accounts?mine=true`)).body.items).toEqual([]);
});

it("refuses a name whose sign-in name (userPrincipalName) is another person's: nothing is created in the directory", async () => {
  // A real user whose sAMAccountName differs, but who signs in as <name>@<domain>.
  const name = `u${hex}_jit`;
  const holderDn = `CN=Ursula ${hex},CN=Users,${dc.baseDn}`;
  await ldap.add(holderDn, {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    sAMAccountName: `ursula.${hex}`,
    userPrincipalName: upn(name),
    userAccountControl: '514',
  });
  const res = await ask(mallory, ids.b, name);
  expect(res.status, JSON.stringify(res.body)).toBe(409);
  expect(res.body.error.details).toEqual({ reason: 'sign_in_name_taken' });
  expect(res.body.error.message).toBe(
    `the account name "${name}" is already in use on target "corp-b" (another account there already signs in with it as its user principal name); Timebox will not take it over: choose another account name`,
  );
  expect(await account(name)).toBeNull();
  expect((await mallory.get(`${T}/jit-accounts?mine=true`)).body.items).toEqual([]);
  // The holder is untouched.
  const { searchEntries } = await ldap.search(holderDn, { scope: 'base', attributes: ['userPrincipalName', 'userAccountControl'] });
  expect(searchEntries[0]).toMatchObject({ userPrincipalName: upn(name), userAccountControl: '514' });
});
