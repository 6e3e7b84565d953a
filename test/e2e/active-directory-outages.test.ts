/**
 * Active Directory JIT accounts when something is down at the end of a grant, real Samba AD DC:
 * - Timebox itself is killed before the expiry (a real server process): the DC refuses the JIT
 *   account on its own once accountExpires passes (LDAP bind data 701), and the restarted
 *   server finishes the revocation;
 * - the DC is stopped at the expiry: the revocation is retried (revoking, with attempts and the
 *   error) and completes once the DC is back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../harness/postgres.js';
import { seedDataDir } from '../harness/pglite-template.js';
import { type JitDomain, type SambaDc, adminClient, bindAs, prepareJitDomain, startSambaDc } from '../harness/samba.js';
import { startChildServer, type ChildServer } from '../support/child-server.js';
import { addMember, signIn, signInFirstOwner, type ApiClient } from '../support/http.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import { adTargetConfig, groupMembers } from '../support/ad-target.js';

const T = '/api/v1/tenants/default';
let dc: SambaDc;
let domain: JitDomain;
let ldap: Client;

const upn = (user: string) => `${user}@${dc.realm.toLowerCase()}`;
const targetConfig = () => adTargetConfig(dc, domain, { operationTimeoutMs: 10_000 });
const members = (group: string) => groupMembers(ldap, group);
async function uac(dn: string): Promise<string> {
  const { searchEntries } = await ldap.search(dn, { scope: 'base', attributes: ['userAccountControl'] });
  return String(searchEntries[0]!.userAccountControl);
}
/** Polls `probe` a few times a second until it returns something, for at most `ms`. */
async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Target, policy and a requester on a fresh server. */
async function setUp(admin: ApiClient, addRequester: (email: string) => Promise<ApiClient>) {
  const added = await admin.post(`${T}/targets`, { name: 'corp-ad', kind: 'active-directory', config: targetConfig() });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  expect(added.body.check.ok).toBe(true);
  const policy = await admin.post(`${T}/policies`, {
    name: 'ad', targetId: added.body.target.id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600,
  });
  expect(policy.status).toBe(201);
  const requester = await addRequester(`dana.${randomBytes(3).toString('hex')}@example.com`);
  return { targetId: added.body.target.id as string, requester };
}

beforeAll(async () => {
  dc = await startSambaDc();
  domain = await prepareJitDomain(dc);
  ldap = await adminClient(dc);
});
afterAll(async () => {
  await ldap?.unbind();
  await dc?.destroy();
});

describe('Timebox is down at the end of a grant', () => {
  let child: ChildServer | null = null;
  let dataDir = '';
  afterAll(async () => {
    await child?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('the DC refuses the JIT account by itself after accountExpires (701); the restarted server finishes the revocation', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'timebox-ad-down-'));
    const env = {
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      TIMEBOX_DATA_DIR: await seedDataDir(dataDir),
      TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'),
      TIMEBOX_SWEEP_MS: '500',
      TIMEBOX_RECONCILE_MS: '0',
    };
    child = await startChildServer(env);
    const owner = child.bootstrap!;
    const admin = await signInFirstOwner(child.url, owner);
    const { targetId, requester } = await setUp(admin, async (email) => (await addMember(child!.url, admin, 'default', email, ['requester'])).api);

    const res = await requester.post(`${T}/requests`, {
      targetId, entitlements: [domain.groups[0]], durationSeconds: 15, reason: 'INC-7 short task', accountName: 'dana_jit',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.state).toBe('active');
    const expiresAt = new Date(res.body.expiresAt).getTime();
    const { password } = (await requester.post(`${T}/grants/${res.body.id}/credential`)).body;
    expect(await bindAs(dc, upn('dana_jit'), password)).toBe('ok');
    const dn = `CN=dana_jit,${domain.jitOu}`;

    await child.kill9();
    child = null;
    // Nothing of Timebox runs now: only the DC can end the access.
    const refused = await until('the DC to refuse the JIT account', async () => {
      const r = await bindAs(dc, upn('dana_jit'), password);
      return r === 'ok' ? null : r;
    }, expiresAt - Date.now() + 30_000);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(refused).toBe('701'); // ERROR_ACCOUNT_EXPIRED: the right password, an expired account
    // Still enabled and in the group: the DC's own clock did this, not a revocation.
    expect(await uac(dn)).toBe('512');
    expect(await members(domain.groups[0])).toContain(dn);

    child = await startChildServer(env);
    const again = await signIn(child.url, owner.email, owner.password);
    const revoked = await until('the overdue revocation', async () => {
      const g = (await again.get(`${T}/grants/${res.body.id}`)).body;
      return g.state === 'revoked' ? g : null;
    }, 60_000);
    expect(revoked).toMatchObject({ endReason: 'expired', revokeAttempts: 0 });
    expect(await uac(dn)).toBe('514');
    expect(await members(domain.groups[0])).not.toContain(dn);
    expect(await bindAs(dc, upn('dana_jit'), password)).toBe('52e'); // rotated
  }, 150_000);
});

describe('the domain controller is down at the end of a grant', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { TIMEBOX_RECONCILE_MS: '0', TIMEBOX_RETRY_BASE_MS: '2000' } });
  });
  afterAll(async () => {
    await server?.close();
    await dc.start(); // in case a failed assertion left it stopped
  });

  it('retries while it is down (revoking, attempts, the error) and revokes once it is back', async () => {
    const { targetId, requester } = await setUp(server.admin, (email) => addOperator(server, email, ['requester']));
    const res = await requester.post(`${T}/requests`, {
      targetId, entitlements: [domain.groups[1]], durationSeconds: 600, reason: 'INC-8 backups', accountName: 'erin_jit',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const grantId = res.body.id;
    const { password } = (await requester.post(`${T}/grants/${grantId}/credential`)).body;
    expect(await bindAs(dc, upn('erin_jit'), password)).toBe('ok');
    const dn = `CN=erin_jit,${domain.jitOu}`;

    await dc.stop();
    server.clock.shift(600_000 + 1_000);
    await server.tb.scheduler.drain();
    let grant = (await requester.get(`${T}/grants/${grantId}`)).body;
    expect(grant).toMatchObject({ state: 'revoking', revokeAttempts: 1 });
    expect(grant.lastError).toMatch(/Active Directory at ldaps:\/\/.*(ECONNREFUSED|connect|unreachable|refused)/i);

    server.clock.shift(10_000);
    await server.tb.scheduler.drain();
    grant = (await requester.get(`${T}/grants/${grantId}`)).body;
    expect(grant).toMatchObject({ state: 'revoking', revokeAttempts: 2 });

    await dc.start();
    // The admin connection died with the DC: a new one for the checks below.
    await ldap.unbind().catch(() => {});
    ldap = await adminClient(dc);
    server.clock.shift(60_000);
    await server.tb.scheduler.drain();
    grant = (await requester.get(`${T}/grants/${grantId}`)).body;
    expect(grant).toMatchObject({ state: 'revoked', endReason: 'expired', lastError: null });
    expect(await uac(dn)).toBe('514');
    expect(await members(domain.groups[1])).not.toContain(dn);
    expect(await bindAs(dc, upn('erin_jit'), password)).toBe('52e');

    const audit = (await server.admin.get(`${T}/audit?action=grant.*&limit=50`)).body.items.map((e: { action: string }) => e.action);
    expect(audit.filter((a: string) => a === 'grant.revoke_attempt_failed')).toHaveLength(2);
    expect(audit).toContain('grant.revoked');
  });
});
