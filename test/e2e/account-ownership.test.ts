/**
 * Who owns an account on a target, attacked from the outside. Two PostgreSQL targets on ONE real
 * cluster (one per database) share roles: a second requester with only an auto-approved policy
 * on target B asks for the JIT role name of another person's account on target A, through B, and
 * through a target that names the same server by another address; a second Timebox installation
 * manages the same cluster. Every attempt is a 4xx before anything is written: the role's
 * comment, password, login and memberships stay as they were, and its owner still logs in with
 * psql. Reserved names are a 400, existing group roles a 409; an activation the target refuses
 * ends 'failed', with no alert, and its JIT account can be deleted.
 */
import pg from 'pg';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import type { ApiClient } from '../support/http.js';

// Roles are cluster-wide and test files share the cluster: names unique per run.
const runId = randomBytes(3).toString('hex');
const T = '/api/v1/tenants/default';
const reason = 'INC-311 check the orders';

let s1: TestServer; // this installation
let s2: TestServer; // another Timebox installation on the same cluster
let dbA: PgTarget;
let dbB: PgTarget;
let victim: ApiClient;
let mallory: ApiClient;
let newbie: ApiClient; // no JIT account anywhere yet (one per person and target)
let racer: ApiClient;
let dual: ApiClient; // works on both databases
let other: ApiClient; // people of the other installation
let other2: ApiClient;
const ids = { targetA: '', targetB: '', alias: '', shortForm: '', autoPolicyB: '', approvalPolicyB: '', otherTarget: '' };

async function asSuperuser<R extends pg.QueryResultRow>(query: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  const c = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await c.connect();
  try {
    return await c.query<R>(query, values);
  } finally {
    await c.end();
  }
}

/** Everything a takeover would change: comment (marker), password, login, expiry, memberships. */
async function role(name: string) {
  const { rows } = await asSuperuser(
    `SELECT a.rolcanlogin AS login, a.rolpassword AS password, a.rolvaliduntil AS until,
            shobj_description(a.oid, 'pg_authid') AS comment,
            array(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = a.oid ORDER BY 1) AS member_of
       FROM pg_authid a WHERE a.rolname = $1`,
    [name],
  );
  return rows[0] ?? null;
}

async function addTarget(s: TestServer, name: string, config: Record<string, unknown>): Promise<string> {
  const res = await s.admin.post(`${T}/targets`, { name, kind: 'postgres', config });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.target.id;
}

async function addPolicy(s: TestServer, body: Record<string, unknown>): Promise<string> {
  const res = await s.admin.post(`${T}/policies`, { maxDurationSeconds: 4 * 3600, defaultDurationSeconds: 3600, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

const ask = (client: ApiClient, targetId: string, entitlement: string, accountName: string, extra: Record<string, unknown> = {}) =>
  client.post(`${T}/requests`, { targetId, entitlements: [entitlement], durationSeconds: 1800, reason, accountName, ...extra });

async function granted(client: ApiClient, targetId: string, entitlement: string, accountName: string, extra: Record<string, unknown> = {}) {
  const res = await ask(client, targetId, entitlement, accountName, extra);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.state).toBe('active');
  const cred = await client.post(`${T}/grants/${res.body.id}/credential`);
  expect(cred.body.username).toBe(accountName);
  return { grantId: res.body.id as string, password: cred.body.password as string };
}

const accounts = async (client: ApiClient) =>
  ((await client.get(`${T}/jit-accounts?mine=true`)).body.items as Array<{ id: string; username: string; status: string }>);
const accountNamed = async (client: ApiClient, username: string) => (await accounts(client)).find((a) => a.username === username);
const grantCount = async (client: ApiClient) => (await client.get(`${T}/grants?mine=true&limit=200`)).body.items.length as number;
const openAlerts = async (s: TestServer) => (await s.admin.get(`${T}/alerts`)).body.items as unknown[];

beforeAll(async () => {
  // One after the other: a busy machine starts two servers at once slowly.
  s1 = await startTestServer();
  s2 = await startTestServer();
  dbA = await preparePgTarget(inject('pgAdminUrl'));
  dbB = await preparePgTarget(inject('pgAdminUrl'));
  ids.targetA = await addTarget(s1, 'app-a', dbA.config);
  ids.targetB = await addTarget(s1, 'app-b', dbB.config);
  // The same server under another name (a DNS alias, say): Timebox's store cannot tell.
  ids.alias = await addTarget(s1, 'app-b-alias', { ...dbB.config, host: 'localhost' });
  // The same address written another way: the store can.
  ids.shortForm = await addTarget(s1, 'app-b-short', { ...dbB.config, host: '127.1' });
  ids.otherTarget = await addTarget(s2, 'app-b', dbB.config);

  victim = await addOperator(s1, `victim.${runId}@example.test`, ['approver']);
  mallory = await addOperator(s1, `mallory.${runId}@example.test`, ['requester']);
  newbie = await addOperator(s1, `newbie.${runId}@example.test`, ['requester']);
  racer = await addOperator(s1, `racer.${runId}@example.test`, ['requester']);
  dual = await addOperator(s1, `dual.${runId}@example.test`, ['approver']);
  other = await addOperator(s2, `other.${runId}@example.test`, ['requester']);
  other2 = await addOperator(s2, `other2.${runId}@example.test`, ['requester']);
  const adminId = (await s1.admin.get('/api/v1/me')).body.operator.id as string;

  await addPolicy(s1, { name: 'a for approvers', targetId: ids.targetA, requesterRoles: ['approver'] });
  await addPolicy(s1, { name: 'b for approvers', targetId: ids.targetB, requesterRoles: ['approver'] });
  // Mallory holds only auto-approved policies on B (and its alias), plus one that needs the admin.
  ids.autoPolicyB = await addPolicy(s1, { name: 'b auto', targetId: ids.targetB, requesterRoles: ['requester'] });
  await addPolicy(s1, { name: 'alias auto', targetId: ids.alias, requesterRoles: ['requester'] });
  ids.approvalPolicyB = await addPolicy(s1, {
    name: 'b approved',
    targetId: ids.targetB,
    requesterRoles: ['requester'],
    rules: { approvalLevels: [{ approverIds: [adminId] }] },
  });
  await addPolicy(s2, { name: 'b auto', targetId: ids.otherTarget, requesterRoles: ['requester'] });
  // Two servers (two installations) and six people whose passwords are hashed: slow on a busy machine.
}, 300_000);

afterAll(async () => {
  await Promise.allSettled([s1?.close(), s2?.close()]);
  await Promise.allSettled([dbA?.drop(), dbB?.drop()]);
});

describe('ownership of JIT roles on a shared cluster', () => {
  const victimName = `vic_${runId}_jit`;

  it("refuses another person's disabled JIT role of target A, asked through target B or an alias of the server, changing nothing", async () => {
    const first = await granted(victim, ids.targetA, dbA.readers, victimName);
    expect((await psql(dbA, victimName, first.password, 'select count(*) from orders')).stdout).toBe('2');
    const ended = await victim.post(`${T}/grants/${first.grantId}/revoke`, { reason: 'done' });
    expect(ended.body.state).toBe('revoked');
    const victimAccount = (await accountNamed(victim, victimName))!;
    const before = await role(victimName);
    expect(before).toMatchObject({ login: false });
    // The marker names the owning JIT account (and this installation).
    expect(before!.comment).toMatch(new RegExp(`^Timebox JIT account [0-9a-f-]{36}/${victimAccount.id} of `));

    // Through target B: Timebox's store knows the name is taken on this cluster.
    const viaB = await ask(mallory, ids.targetB, dbB.readers, victimName);
    expect(viaB.status, JSON.stringify(viaB.body)).toBe(409);
    expect(viaB.body.error.message).toBe(
      `the account name "${victimName}" is already used by another JIT account on a target that reaches the same server or domain as "app-b"; choose another`,
    );
    // Through the address written short (127.1): the store knows it is the same server.
    await addPolicy(s1, { name: 'short auto', targetId: ids.shortForm, requesterRoles: ['requester'] });
    const viaShort = await ask(mallory, ids.shortForm, dbB.readers, victimName);
    expect(viaShort.status, JSON.stringify(viaShort.body)).toBe(409);
    expect(viaShort.body.error.message).toMatch(/is already used by another JIT account on a target that reaches the same server or domain as "app-b-short"/);
    // Through the alias: the role's marker names another JIT account.
    const viaAlias = await ask(mallory, ids.alias, dbB.readers, victimName);
    expect(viaAlias.status, JSON.stringify(viaAlias.body)).toBe(409);
    expect(viaAlias.body.error.message).toMatch(
      new RegExp(`^the account name "${victimName}" is already in use on target "app-b-alias" \\(it is the Timebox JIT account of another person or target\\); Timebox will not take it over`),
    );

    expect(await accounts(mallory)).toEqual([]);
    expect(await grantCount(mallory)).toBe(0);
    expect(await role(victimName)).toEqual(before);

    // The victim's next grant works as before, and only for the victim.
    const again = await victim.post(`${T}/jit-accounts/${victimAccount.id}/enable`, { reason });
    expect(again.body.state, JSON.stringify(again.body)).toBe('active');
    const cred = await victim.post(`${T}/grants/${again.body.id}/credential`);
    expect((await psql(dbA, victimName, cred.body.password, 'select count(*) from orders')).stdout).toBe('2');
    expect((await psql(dbA, victimName, first.password, 'select 1')).ok).toBe(false);
    expect((await ask(mallory, ids.alias, dbB.readers, victimName)).status).toBe(409);
    expect((await victim.post(`${T}/grants/${again.body.id}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
  });

  it('a person working on both databases gets a second name Timebox chooses, not a shared role', async () => {
    const onA = await dual.post(`${T}/requests`, { targetId: ids.targetA, entitlements: [dbA.readers], durationSeconds: 1800, reason });
    const onB = await dual.post(`${T}/requests`, { targetId: ids.targetB, entitlements: [dbB.readers], durationSeconds: 1800, reason });
    expect([onA.body.state, onB.body.state], JSON.stringify([onA.body, onB.body])).toEqual(['active', 'active']);
    const credA = (await dual.post(`${T}/grants/${onA.body.id}/credential`)).body;
    const credB = (await dual.post(`${T}/grants/${onB.body.id}/credential`)).body;
    expect(credA.username).toBe(`dual_${runId}_jit`);
    expect(credB.username).toBe(`dual_${runId}_jit2`);
    expect((await psql(dbA, credA.username, credA.password, 'select count(*) from orders')).stdout).toBe('2');
    expect((await psql(dbB, credB.username, credB.password, 'select count(*) from orders')).stdout).toBe('2');
    // Ending one grant leaves the other account working.
    expect((await dual.post(`${T}/grants/${onA.body.id}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
    expect((await psql(dbB, credB.username, credB.password, 'select 1')).ok).toBe(true);
    expect((await dual.post(`${T}/grants/${onB.body.id}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
  });

  it('never takes over a JIT role of another Timebox installation: refused on request, failed at activation, re-enable refused, delete leaves it', async () => {
    const theirs = `oth_${runId}_jit`;
    const theirGrant = await granted(other, ids.otherTarget, dbB.readers, theirs);
    const before = await role(theirs);

    const res = await ask(mallory, ids.targetB, dbB.readers, theirs);
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error.message).toMatch(/\(it is a JIT account of another Timebox installation\); Timebox will not take it over/);
    expect(await accounts(mallory)).toEqual([]);

    // A request waiting for approval while the other installation creates the same name.
    const late = `late_${runId}_jit`;
    const pending = await ask(mallory, ids.targetB, dbB.readers, late, { policyId: ids.approvalPolicyB });
    expect(pending.status, JSON.stringify(pending.body)).toBe(201);
    expect(pending.body.state).toBe('requested');
    const theirLate = await granted(other2, ids.otherTarget, dbB.readers, late);
    const lateBefore = await role(late);

    const approved = await s1.admin.post(`${T}/grants/${pending.body.id}/approve`, { reason: 'ok' });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const failed = (await mallory.get(`${T}/grants/${pending.body.id}`)).body;
    expect(failed.state).toBe('failed');
    expect(failed.endReason).toMatch(/^activation refused by the target: role "late_\w+_jit" is not this JIT account's \(it is a JIT account of another Timebox installation\)/);
    expect(await openAlerts(s1)).toEqual([]);
    expect(await role(late)).toEqual(lateBefore);
    expect((await psql(dbB, late, theirLate.password, 'select count(*) from orders')).stdout).toBe('2');

    const account = (await accountNamed(mallory, late))!;
    const reenable = await mallory.post(`${T}/jit-accounts/${account.id}/enable`, { reason, entitlements: [dbB.readers] });
    expect(reenable.status, JSON.stringify(reenable.body)).toBe(409);
    expect(reenable.body.error.message).toMatch(/another Timebox installation/);
    // Never provisioned by this JIT account: deleting it removes Timebox's record, not their role.
    const deleted = await mallory.call('DELETE', `${T}/jit-accounts/${account.id}`);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(204);
    expect(await accountNamed(mallory, late)).toBeUndefined();
    expect(await role(late)).toEqual(lateBefore);
    expect(await role(theirs)).toEqual(before);
    expect((await psql(dbB, theirs, theirGrant.password, 'select count(*) from orders')).stdout).toBe('2');
  });

  it('rotate, enable again and delete refuse a role whose marker no longer names this JIT account', async () => {
    const mine = `own_${runId}_jit`;
    const { grantId, password } = await granted(mallory, ids.targetB, dbB.readers, mine, { policyId: ids.autoPolicyB });
    const account = (await accountNamed(mallory, mine))!;
    // Someone (another installation, a DBA) made the role theirs on the server.
    await asSuperuser(`COMMENT ON ROLE ${mine} IS 'Timebox JIT account ${randomUUID()}/${randomUUID()} of Someone Else'`);
    const taken = await role(mine);

    const rotate = await mallory.post(`${T}/jit-accounts/${account.id}/rotate`);
    expect(rotate.status, JSON.stringify(rotate.body)).toBe(409);
    expect(rotate.body.error.message).toMatch(/another Timebox installation/);
    expect(await role(mine)).toEqual(taken);
    expect((await psql(dbB, mine, password, 'select 1')).ok).toBe(true);

    expect((await mallory.post(`${T}/grants/${grantId}/revoke`, { reason: 'done' })).body.state).toBe('revoked');
    const after = await role(mine);
    const enable = await mallory.post(`${T}/jit-accounts/${account.id}/enable`, { reason, policyId: ids.autoPolicyB });
    expect(enable.status, JSON.stringify(enable.body)).toBe(409);
    const del = await mallory.call('DELETE', `${T}/jit-accounts/${account.id}`);
    expect(del.status, JSON.stringify(del.body)).toBe(409);
    expect(del.body.error.message).toMatch(/another Timebox installation/);
    expect(await role(mine)).toEqual(after);
    expect(await accountNamed(mallory, mine)).toMatchObject({ status: 'disabled' });
  });
});

describe('names the target reserves or already uses', () => {
  it('reserved names are a 400 with the reason, an existing group role a 409, and nothing is created', async () => {
    const groupBefore = await role(dbB.readers);
    const cases: Array<[string, number, RegExp]> = [
      ['public', 400, /^"public" is a name PostgreSQL reserves \(a keyword or special role name\) and cannot be a JIT account/],
      ['pg_monitor', 400, /^Account names may not start with "pg_", which PostgreSQL reserves \(got "pg_monitor"\)/],
      ['current_user', 400, /^"current_user" is a name PostgreSQL reserves/],
      ['none', 400, /^"none" is a name PostgreSQL reserves/],
      [dbB.readers, 409, new RegExp(`^the account name "${dbB.readers}" is already in use on target "app-b" \\(it exists there and is not a Timebox JIT account\\); Timebox will not take it over`)],
    ];
    const accountsBefore = await accounts(newbie);
    const grantsBefore = await grantCount(newbie);
    for (const [name, status, message] of cases) {
      const res = await ask(newbie, ids.targetB, dbB.readers, name);
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.error.message, name).toMatch(message);
    }
    expect(await accounts(newbie)).toEqual(accountsBefore);
    expect(await grantCount(newbie)).toBe(grantsBefore);
    expect(await role(dbB.readers)).toEqual(groupBefore);
    expect(groupBefore).toMatchObject({ login: false, comment: null });
  });

  it('an activation refused by the target ends failed, raises no alert, and the JIT account can be deleted', async () => {
    const name = `race_${runId}_jit`;
    const pending = await ask(racer, ids.targetB, dbB.readers, name, { policyId: ids.approvalPolicyB });
    expect(pending.body.state, JSON.stringify(pending.body)).toBe('requested');
    // Meanwhile a DBA creates a group role of that name (as `app_readers` was in the report).
    await asSuperuser(`CREATE ROLE ${name} NOLOGIN`);
    const before = await role(name);

    await s1.admin.post(`${T}/grants/${pending.body.id}/approve`, { reason: 'ok' });
    const grant = (await racer.get(`${T}/grants/${pending.body.id}`)).body;
    expect(grant.state).toBe('failed');
    expect(grant.endReason).toBe(
      `activation refused by the target: role "${name}" already exists and is not a Timebox JIT account; Timebox will not change it`,
    );
    expect(await openAlerts(s1)).toEqual([]);
    expect(await role(name)).toEqual(before);

    const account = (await accountNamed(racer, name))!;
    const del = await racer.call('DELETE', `${T}/jit-accounts/${account.id}`);
    expect(del.status, JSON.stringify(del.body)).toBe(204);
    expect(await accountNamed(racer, name)).toBeUndefined();
    expect(await role(name)).toEqual(before); // the DBA's role is not Timebox's to drop
    await asSuperuser(`DROP ROLE ${name}`);
  });
});
