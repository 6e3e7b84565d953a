/**
 * Offboarding in one action, from outside, against real targets: a person with five live grants
 * (PostgreSQL roles on two databases and Active Directory groups on a Samba DC), an open
 * dashboard session, an API token, a pending request of their own and requests waiting on them
 * as an approver is disabled in the tenant. The next call of the session and of the token is 401;
 * every grant is revoked through the lifecycle and checked on the targets (psql login refused,
 * LDAP bind refused); their request is cancelled; approvals are re-routed or flagged; each step
 * is audited. Re-enabling restores sign-in only.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type JitDomain, type SambaDc, bindAs, prepareJitDomain, startSambaDc } from '../harness/samba.js';
import { adTargetConfig } from '../support/ad-target.js';
import { addMember, apiClient, type Member } from '../support/http.js';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');

let dc: SambaDc;
let domain: JitDomain;
let server: TestServer;
const pgs: PgTarget[] = [];
let olga: Member; // requester and approver: the one who leaves
let amy: Member; // approver
let rex: Member; // requester
const ids: Record<string, string> = {};
const upn = (user: string) => `${user}@${dc.realm.toLowerCase()}`;

async function addTarget(name: string, kind: string, config: Record<string, unknown>, rules?: unknown) {
  const t = await server.admin.post(`${T}/targets`, { name, kind, config });
  expect(t.status, JSON.stringify(t.body)).toBe(201);
  const p = await server.admin.post(`${T}/policies`, {
    name,
    targetId: t.body.target.id,
    requesterRoles: ['requester'],
    maxDurationSeconds: 4 * 3600,
    defaultDurationSeconds: 3600,
    ...(rules ? { rules } : {}),
  });
  expect(p.status, JSON.stringify(p.body)).toBe(201);
  ids[name] = t.body.target.id;
}

beforeAll(async () => {
  dc = await startSambaDc();
  domain = await prepareJitDomain(dc);
  server = await startTestServer({ env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true', TIMEBOX_RECONCILE_MS: '0' } });
  olga = await addMember(server.url, server.admin, 'default', `olga.${hex}@example.com`, ['requester', 'approver']);
  amy = await addMember(server.url, server.admin, 'default', `amy.${hex}@example.com`, ['approver']);
  rex = await addMember(server.url, server.admin, 'default', `rex.${hex}@example.com`, ['requester']);
  for (const n of [0, 1]) pgs.push(await preparePgTarget(inject('pgAdminUrl')));
  await addTarget('orders-db', 'postgres', pgs[0]!.config);
  await addTarget('billing-db', 'postgres', pgs[1]!.config);
  await addTarget('corp-ad', 'active-directory', adTargetConfig(dc, domain));
  const jit = await server.admin.call('PUT', `${T}/targets/${ids['corp-ad']}/jit-settings`, { enabled: true, allowedGroups: domain.groups, creatorGroupIds: [] });
  expect(jit.status, JSON.stringify(jit.body)).toBe(200);
  // Two approval routes: one Olga shares with Amy, one only Olga can decide.
  await addTarget('shared-approval', 'fake', { instance: `a-${hex}`, entitlements: ['readers'] }, { approvalLevels: [{ name: 'ops', approverIds: [olga.id, amy.id], quorum: 1 }] });
  await addTarget('olga-approval', 'fake', { instance: `b-${hex}`, entitlements: ['readers'] }, { approvalLevels: [{ name: 'olga', approverIds: [olga.id], quorum: 1 }] });
  // And one that needs both of them.
  await addTarget('pair-approval', 'fake', { instance: `c-${hex}`, entitlements: ['readers'] }, { approvalLevels: [{ name: 'pair', approverIds: [olga.id, amy.id], quorum: 2 }] });
});

afterAll(async () => {
  await server?.close();
  for (const p of pgs) await p.drop();
  await dc?.destroy();
});

/** Grant views once every one is revoked (or fails after 60 s, showing where they stood). */
async function untilAllRevoked(grantIds: string[]) {
  const end = Date.now() + 60_000;
  for (;;) {
    await server.tb.scheduler.drain();
    const views = await Promise.all(grantIds.map(async (id) => (await server.admin.get(`${T}/grants/${id}`)).body));
    if (views.every((g) => g.state === 'revoked') || Date.now() > end) return views;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('disabling a member', () => {
  it('ends session and token at once, revokes every grant on the targets, cancels and re-routes; re-enabling restores sign-in only', async () => {
    const ask = async (who: Member, target: string, entitlements: string[], extra: Record<string, unknown> = {}) => {
      const r = await who.api.post(`${T}/requests`, { targetId: ids[target], entitlements, durationSeconds: 3600, reason: `INC-${hex} offboarding drill`, ...extra });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body as { id: string; state: string; username: string };
    };
    // Five live grants: two roles on one database, one on another, two AD groups.
    const grants = [
      await ask(olga, 'orders-db', [pgs[0]!.readers]),
      await ask(olga, 'orders-db', [pgs[0]!.writers]),
      // Roles are cluster-wide and both databases share the test cluster: another account name.
      await ask(olga, 'billing-db', [pgs[1]!.readers], { accountName: `olgab_${hex}_jit` }),
      await ask(olga, 'corp-ad', [domain.groups[0]!], { accountName: `olga${hex}` }),
      await ask(olga, 'corp-ad', [domain.groups[1]!], { accountName: `olga${hex}` }),
    ];
    expect(grants.map((g) => g.state)).toEqual(Array(5).fill('active'));
    // The newest credential of each account (a new grant on the same account sets a new one).
    const creds: Record<string, { username: string; password: string }> = {};
    for (const [i, target] of ['orders-db', 'orders-db', 'billing-db', 'corp-ad', 'corp-ad'].entries()) {
      const c = await olga.api.post(`${T}/grants/${grants[i]!.id}/credential`);
      expect(c.status, JSON.stringify(c.body)).toBe(200);
      creds[target] = c.body;
    }
    expect((await psql(pgs[0]!, creds['orders-db']!.username, creds['orders-db']!.password, 'select 1')).ok).toBe(true);
    expect((await psql(pgs[1]!, creds['billing-db']!.username, creds['billing-db']!.password, 'select 1')).ok).toBe(true);
    expect(await bindAs(dc, upn(creds['corp-ad']!.username), creds['corp-ad']!.password)).toBe('ok');

    // Her own pending request, and requests waiting on her as an approver.
    const own = await ask(olga, 'shared-approval', ['readers']);
    const shared = await ask(rex, 'shared-approval', ['readers']);
    const onlyHer = await ask(rex, 'olga-approval', ['readers']);
    expect([own.state, shared.state, onlyHer.state]).toEqual(['requested', 'requested', 'requested']);
    // One she already approved, waiting for Amy's second approval.
    const pair = await ask(rex, 'pair-approval', ['readers']);
    expect((await olga.api.post(`${T}/grants/${pair.id}/approve`, {})).body.state).toBe('requested');

    // An open dashboard session (cookie) and an API token.
    const login = await apiClient(server.url).post('/api/v1/auth/login', { email: olga.email, password: olga.password });
    const cookie = `timebox_session=${login.body.token}`;
    const cookieMe = () => fetch(new URL('/api/v1/me', server.url), { headers: { cookie } }).then((r) => r.status);
    expect(await cookieMe()).toBe(200);
    const token = await apiClient(server.url, login.body.token).post('/api/v1/tokens', { name: 'laptop' });
    expect(token.status).toBe(201);
    const byToken = apiClient(server.url, token.body.token);
    expect((await byToken.get('/api/v1/me')).status).toBe(200);

    const started = performance.now();
    const disabled = await server.admin.post(`${T}/members/${olga.id}/disable`, { reason: 'left the company' });
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    // The very next calls.
    expect(await cookieMe()).toBe(401);
    expect((await byToken.get('/api/v1/me')).status).toBe(401);
    expect((await olga.api.get(`${T}/grants`)).status).toBe(401);
    // Two sessions (the helper's and the dashboard's) and the API token.
    expect(disabled.body).toEqual({ sessionsAndTokensEnded: 3, requestsCancelled: 1, grantsRevoked: 5, approvalsRerouted: 1, approvalsFlagged: 2 });

    // The revoke jobs run on the server's own scheduler (two grants share each account: they
    // take turns on its lease); look a few times a second until the last one is revoked.
    const states = await untilAllRevoked(grants.map((g) => g.id));
    const seconds = (performance.now() - started) / 1000;
    console.log(`offboarding: disable to last of 5 grants revoked and verified (PostgreSQL + Active Directory): ${seconds.toFixed(2)} s`);
    expect(states.map((g) => g.state)).toEqual(Array(5).fill('revoked'));
    expect(states.every((g) => g.endReason === 'offboarded: left the company')).toBe(true);

    // On the targets themselves.
    expect((await psql(pgs[0]!, creds['orders-db']!.username, creds['orders-db']!.password, 'select 1')).ok).toBe(false);
    expect((await psql(pgs[1]!, creds['billing-db']!.username, creds['billing-db']!.password, 'select 1')).ok).toBe(false);
    expect(await bindAs(dc, upn(creds['corp-ad']!.username), creds['corp-ad']!.password)).not.toBe('ok');

    // Requests: hers cancelled; the shared one waits for Amy, who can still decide; the other is flagged.
    expect((await server.admin.get(`${T}/grants/${own.id}`)).body.state).toBe('cancelled');
    expect((await amy.api.post(`${T}/grants/${shared.id}/approve`, { reason: 'fine' })).status).toBe(200);
    const alerts = await server.tb.store.db.selectFrom('alerts').select(['grant_id', 'message']).where('grant_id', '=', onlyHer.id).execute();
    expect(alerts).toEqual([{ grant_id: onlyHer.id, message: expect.stringContaining('can no longer reach the quorum') }]);
    // Her approval no longer counts once she is disabled: Amy's alone does not make the pair.
    const pairAlerts = await server.tb.store.db.selectFrom('alerts').select('message').where('grant_id', '=', pair.id).execute();
    expect(pairAlerts).toEqual([{ message: expect.stringContaining('can no longer reach the quorum of approval level 1 (2 needed, 0 given, 1 approver(s) left)') }]);
    expect((await amy.api.post(`${T}/grants/${pair.id}/approve`, {})).body.state).toBe('requested');

    // Every step in the audit log.
    const audit = (await server.admin.get(`${T}/audit?limit=200`)).body.items as Array<{ action: string; subject_id: string | null }>;
    const actions = audit.map((e) => e.action);
    for (const a of ['membership.disabled', 'operator.sessions_ended', 'approval.rerouted', 'alert.raised']) expect(actions).toContain(a);
    for (const g of grants) expect(audit.some((e) => e.subject_id === g.id && /revoked/.test(e.action))).toBe(true);

    // Disabled here: signing in works (other tenants), but this tenant is closed to her.
    const back = await apiClient(server.url).post('/api/v1/auth/login', { email: olga.email, password: olga.password });
    const again = apiClient(server.url, back.body.token);
    expect((await again.get(`${T}/grants`)).status).toBe(404);

    // Re-enabled: sign-in works here again; no grant and no token comes back.
    expect((await server.admin.post(`${T}/members/${olga.id}/enable`)).status).toBe(204);
    expect((await again.get(`${T}/grants?mine=true`)).status).toBe(200);
    expect((await byToken.get('/api/v1/me')).status).toBe(401);
    const after = await Promise.all(grants.map(async (g) => (await server.admin.get(`${T}/grants/${g.id}`)).body.state));
    expect(after).toEqual(Array(5).fill('revoked'));
    expect((await psql(pgs[0]!, creds['orders-db']!.username, creds['orders-db']!.password, 'select 1')).ok).toBe(false);
  });

  it('an admin ends someone’s sessions and tokens without disabling them; disabling platform-wide is for platform admins', async () => {
    const rexLogin = await apiClient(server.url).post('/api/v1/auth/login', { email: rex.email, password: rex.password });
    const session = apiClient(server.url, rexLogin.body.token);
    const ended = await server.admin.post(`${T}/members/${rex.id}/end-sessions`, { reason: 'lost laptop' });
    expect(ended.status).toBe(200);
    expect(ended.body.sessionsAndTokensEnded).toBeGreaterThanOrEqual(2);
    expect((await session.get('/api/v1/me')).status).toBe(401);
    expect((await rex.api.get('/api/v1/me')).status).toBe(401);
    // Still a member: signs in again and works.
    const back = await apiClient(server.url).post('/api/v1/auth/login', { email: rex.email, password: rex.password });
    expect((await apiClient(server.url, back.body.token).get(`${T}/grants?mine=true`)).status).toBe(200);

    expect((await amy.api.post(`/api/v1/operators/${rex.id}/disable`, { reason: 'not mine to do' })).status).toBe(403);
    const everywhere = await server.admin.post(`/api/v1/operators/${rex.id}/disable`, { reason: 'contract ended' });
    expect(everywhere.status).toBe(200);
    expect((await apiClient(server.url).post('/api/v1/auth/login', { email: rex.email, password: rex.password })).status).toBe(401);
    expect((await server.admin.post(`/api/v1/operators/${rex.id}/enable`)).status).toBe(204);
    expect((await apiClient(server.url).post('/api/v1/auth/login', { email: rex.email, password: rex.password })).status).toBe(200);
  });
});
