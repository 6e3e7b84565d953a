/**
 * The approval workflow through the API, against a real PostgreSQL target: two ordered levels
 * (quorum 2, then 1), a denial, an approver shortening the grant, self-approval and late
 * approval refused, break-glass with its review, an extension through approval, concurrent
 * approvers counted once, and the policy simulator.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { preparePgTarget, psql, type PgTarget } from '../support/pg-target.js';
import { createMember, startTestServer, type TestServer } from '../support/test-server.js';
import type { ApiClient } from '../support/http.js';
import { startReceiver, startSmtpSink } from '../notify/support.js';
import { verifyWebhookSignature } from '../../src/notify/verify-signature.js';
import { generate } from 'otplib';

const T = '/api/v1/tenants/default';
let server: TestServer;
let target: PgTarget;
let targetId: string;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let hooks: Awaited<ReturnType<typeof startReceiver>>;
let hookSecret = '';
const people: Record<string, { id: string; email: string; api: ApiClient }> = {};

async function person(name: string, roles: string[]) {
  const email = `${name}.${randomBytes(3).toString('hex')}@example.com`;
  // Straight into the store: SMTP is set up here, and invitation mails would join the count.
  const m = await createMember(server.tb, 'default', email, roles);
  people[name] = { id: m.id, email, api: m.api };
  return people[name]!;
}

const ask = (api: ApiClient, over: Record<string, unknown> = {}) =>
  api.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 3600, reason: 'CHG-1001 rotate certs', ...over });

beforeAll(async () => {
  server = await startTestServer();
  smtp = await startSmtpSink({ username: 'relay', password: 'relay-password-1' });
  hooks = await startReceiver();
  const settings = await server.admin.call('PUT', `${T}/settings/notifications`, {
    smtp: { host: '127.0.0.1', port: smtp.port, username: 'relay', password: 'relay-password-1', from: 'timebox@example.com', requireTls: false },
  });
  expect(settings.status, JSON.stringify(settings.body)).toBe(200);
  const hook = await server.admin.post(`${T}/webhooks`, { name: 'ops', url: `${hooks.base}/hook`, format: 'generic', events: ['break_glass', 'approval_requested'] });
  expect(hook.status, JSON.stringify(hook.body)).toBe(201);
  hookSecret = hook.body.secret;
  target = await preparePgTarget(inject('pgAdminUrl'));
  targetId = (await server.admin.post(`${T}/targets`, { name: 'db', kind: 'postgres', config: target.config })).body.target.id;
  for (const n of ['alice', 'carol']) await person(n, ['requester']);
  for (const n of ['a1', 'a2', 'a3']) await person(n, ['approver', 'requester']);
  await person('b1', ['approver']);
  const leads = await server.admin.post(`${T}/groups`, { name: 'team leads', memberIds: [people.a1!.id, people.a2!.id, people.a3!.id] });
  expect(leads.status).toBe(201);
  const policy = await server.admin.post(`${T}/policies`, {
    name: 'prod db',
    targetId,
    requesterRoles: ['requester'],
    maxDurationSeconds: 4 * 3600,
    defaultDurationSeconds: 3600,
    pendingTtlSeconds: 600,
    rules: {
      approvalLevels: [
        { name: 'leads', groupIds: [leads.body.id], quorum: 2 },
        { name: 'security', approverIds: [people.b1!.id], quorum: 1 },
      ],
      extension: { allowed: true, maxTotalSeconds: 2 * 3600, selfApprove: false },
      breakGlass: { allowed: true },
    },
  });
  expect(policy.status, JSON.stringify(policy.body)).toBe(201);
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
  await hooks?.close();
  await target?.drop();
});

describe('approval workflow', () => {
  let grantId = '';

  it('asks level 1 (quorum 2), then level 2, lets an approver shorten, and activates', async () => {
    const { alice, a1, a2, a3, b1 } = people as Required<typeof people>;
    const req = await ask(alice!.api);
    expect(req.status).toBe(201);
    expect(req.body.state).toBe('requested');
    grantId = req.body.id;

    const inbox = await a1!.api.get(`${T}/approvals`);
    expect(inbox.body.items).toEqual([expect.objectContaining({ kind: 'request', level: 1, levels: 2, quorum: 2, approvals: 0, cannotDecide: null })]);
    const early = await b1!.api.post(`${T}/grants/${grantId}/approve`, {});
    expect(early.status).toBe(403);
    expect(early.body.error.message).toBe('you approve at level 2; the request is waiting for level 1');

    expect((await a1!.api.post(`${T}/grants/${grantId}/approve`, { reason: 'ok' })).body.state).toBe('requested');
    const twice = await a1!.api.post(`${T}/grants/${grantId}/approve`, {});
    expect(twice.status).toBe(409);
    expect(twice.body.error.message).toBe('you have already decided on this request');

    const longer = await a2!.api.post(`${T}/grants/${grantId}/approve`, { durationSeconds: 7200 });
    expect(longer.status).toBe(422);
    expect(longer.body.error.message).toMatch(/may shorten a request, not lengthen it/);

    const shortened = await a2!.api.post(`${T}/grants/${grantId}/approve`, { durationSeconds: 1800 });
    expect(shortened.body).toMatchObject({ state: 'requested', durationSeconds: 1800 });
    const late = await a3!.api.post(`${T}/grants/${grantId}/approve`, {});
    expect(late.status).toBe(403);
    expect(late.body.error.message).toBe('you approve at level 1; the request is waiting for level 2');

    const inbox2 = await b1!.api.get(`${T}/approvals`);
    expect(inbox2.body.items[0]).toMatchObject({ level: 2, quorum: 1, acted: [expect.objectContaining({ approverEmail: a1!.email }), expect.objectContaining({ approverEmail: a2!.email })] });
    const final = await b1!.api.post(`${T}/grants/${grantId}/approve`, {});
    expect(final.body).toMatchObject({ state: 'active', durationSeconds: 1800 });
    expect(new Date(final.body.expiresAt).getTime() - new Date(final.body.startsAt).getTime()).toBe(1800_000);

    const cred = await alice!.api.post(`${T}/grants/${grantId}/credential`);
    expect((await psql(target, cred.body.username, cred.body.password, 'select count(*) from orders')).stdout).toBe('2');
  });

  it('extends the grant through the same approval levels and moves the native expiry', async () => {
    const { alice, a1, a2, b1 } = people;
    const before = (await alice!.api.get(`${T}/grants/${grantId}`)).body;
    const over = await alice!.api.post(`${T}/grants/${grantId}/extend`, { seconds: 7200, reason: 'more time' });
    expect(over.status).toBe(422);
    expect(over.body.error.message).toMatch(/caps a grant at 2h in total; you can extend by at most 1h30m/);
    // Not the approver's to ask for: said so (it exists, they can see it), not "not found".
    const notTheirs = await a1!.api.post(`${T}/grants/${grantId}/extend`, { seconds: 1800, reason: 'I will extend it for her' });
    expect(notTheirs.status).toBe(403);
    expect(notTheirs.body.error.message).toBe('only the person who holds a grant asks for more time on it; an approver then decides');

    const ext = await alice!.api.post(`${T}/grants/${grantId}/extend`, { seconds: 1800, reason: 'migration running long' });
    expect(ext.body.applied).toBe(false);
    const id = ext.body.extensionId;
    expect((await a1!.api.post(`${T}/extensions/${id}/approve`, {})).body.state).toBe('pending');
    expect((await a2!.api.post(`${T}/extensions/${id}/approve`, {})).body.state).toBe('pending');
    const done = await b1!.api.post(`${T}/extensions/${id}/approve`, {});
    expect(done.body.state).toBe('approved');
    expect(new Date(done.body.grant.expiresAt).getTime()).toBe(new Date(before.expiresAt).getTime() + 1800_000);

    const c = new pg.Client({ connectionString: target.db.url });
    await c.connect();
    const r = await c.query('select rolvaliduntil from pg_roles where rolname = $1', [before.username]);
    await c.end();
    expect(new Date(r.rows[0].rolvaliduntil).getTime()).toBe(new Date(done.body.grant.expiresAt).getTime());
  });

  it('ends a request at the first denial', async () => {
    const req = await ask(people.carol!.api);
    const denied = await people.a3!.api.post(`${T}/grants/${req.body.id}/deny`, { reason: 'not during the freeze' });
    expect(denied.body).toMatchObject({ state: 'denied', endReason: 'not during the freeze' });
    const after = await people.a1!.api.post(`${T}/grants/${req.body.id}/approve`, {});
    expect(after.status).toBe(409);
    expect(after.body.error.message).toBe('the request is already denied');
  });

  it('refuses self-approval', async () => {
    const req = await ask(people.a1!.api);
    const self = await people.a1!.api.post(`${T}/grants/${req.body.id}/approve`, {});
    expect(self.status).toBe(403);
    expect(self.body.error.message).toBe('you cannot approve or deny your own request');
    await people.a1!.api.post(`${T}/grants/${req.body.id}/revoke`, { reason: 'withdrawn' });
  });

  it('counts concurrent approvals once each and asks the next level once', async () => {
    const req = await ask(people.carol!.api, { durationSeconds: 600 });
    const [x, y] = await Promise.all([
      people.a1!.api.post(`${T}/grants/${req.body.id}/approve`, {}),
      people.a2!.api.post(`${T}/grants/${req.body.id}/approve`, {}),
    ]);
    expect([x.status, y.status]).toEqual([200, 200]);
    const audit = await server.admin.get(`${T}/audit?subjectId=${req.body.id}&action=approval.*&limit=50`);
    const actions = audit.body.items.map((e: { action: string; after: { level?: number } }) => `${e.action}:${e.after?.level}`).sort();
    expect(actions).toEqual(['approval.approved:1', 'approval.approved:1', 'approval.requested:1', 'approval.requested:2']);
  });

  it('refuses an approval after the request expired, and expires it', async () => {
    const req = await ask(people.carol!.api, { durationSeconds: 600 });
    // The scheduler would expire the request by itself once the clock moves; paused, the
    // approval meets a request that is past its time but not yet expired, which it must refuse.
    await server.tb.scheduler.stop();
    server.clock.shift(601_000);
    const late = await people.a1!.api.post(`${T}/grants/${req.body.id}/approve`, {});
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/the request expired at .* before it was approved/);
    const lateDeny = await people.a1!.api.post(`${T}/grants/${req.body.id}/deny`, { reason: 'too late anyway' });
    expect(lateDeny.status).toBe(409);
    expect(lateDeny.body.error.message).toMatch(/the request expired at .* before it was decided: there is nothing left to deny$/);
    await server.tb.scheduler.drain();
    server.tb.scheduler.start();
    expect((await people.carol!.api.get(`${T}/grants/${req.body.id}`)).body.state).toBe('expired');
  });

  it('grants break-glass access at once, alerts, and tracks the review owed until done', async () => {
    const { carol } = people;
    const res = await ask(carol!.api, { emergency: true, reason: 'outage: orders table locked', durationSeconds: 900 });
    expect(res.body.state).toBe('active');
    const alerts = await server.admin.get(`${T}/alerts`);
    expect(alerts.body.items).toContainEqual(expect.objectContaining({ grantId: res.body.id, severity: 'warning', message: expect.stringMatching(/break-glass/) }));
    const owed = await server.admin.get(`${T}/reviews`);
    expect(owed.body.items).toEqual([expect.objectContaining({ grantId: res.body.id, requesterEmail: carol!.email, reviewedAt: null })]);
    const own = await people.b1!.api.post(`${T}/grants/${res.body.id}/review`, { verdict: 'justified', notes: 'ok' });
    expect(own.status).toBe(204);
    expect((await server.admin.get(`${T}/reviews`)).body.items).toEqual([]);
    const again = await server.admin.post(`${T}/grants/${res.body.id}/review`, { verdict: 'justified', notes: 'twice' });
    expect(again.status).toBe(409);
  });

  it('answers what-if questions without writing anything', async () => {
    const sim = await server.admin.post(`${T}/policies/simulate`, { operatorEmail: people.alice!.email, targetId, entitlements: [target.readers], durationSeconds: 3600 });
    expect(sim.body).toMatchObject({ policy: 'prod db', route: 'approval', refusals: [] });
    expect(sim.body.approvalLevels.map((l: { approvers: string[] }) => l.approvers.length)).toEqual([3, 1]);
    const long = await server.admin.post(`${T}/policies/simulate`, { operatorEmail: people.alice!.email, targetId, entitlements: [target.readers], durationSeconds: 5 * 3600 });
    expect(long.body).toMatchObject({ route: 'refused', refusals: [expect.stringMatching(/5h is longer than policy "prod db" allows \(4h\)/)] });
    const b1 = await server.admin.post(`${T}/policies/simulate`, { operatorEmail: people.b1!.email, targetId, entitlements: [target.readers] });
    // Someone else's case is told as theirs, not as the caller's.
    expect(b1.body).toMatchObject({ route: 'refused', refusals: [expect.stringMatching(new RegExp(`does not list ${people.b1!.email} among its requesters|no policy allows ${people.b1!.email} to`))] });
    // A requester simulates their own asks only: whether an address is a member is not theirs to learn.
    const asAlice = (operatorEmail: string) => people.alice!.api.post(`${T}/policies/simulate`, { operatorEmail, targetId, entitlements: [target.readers] });
    expect((await asAlice(people.alice!.email)).body).toMatchObject({ policy: 'prod db', route: 'approval' });
    const member = await asAlice(people.b1!.email);
    const stranger = await asAlice('nobody@example.test');
    expect(member.status).toBe(403);
    expect(stranger.status).toBe(403);
    expect(member.body).toEqual(stranger.body);
  });

  it('someone who decides nothing learns nothing of which grants exist from approve and deny', async () => {
    const carols = await ask(people.carol!.api);
    const tries = async (id: string) =>
      Promise.all([
        people.alice!.api.post(`${T}/grants/${id}/approve`, {}),
        people.alice!.api.post(`${T}/grants/${id}/deny`, { reason: 'no' }),
        people.alice!.api.post(`${T}/extensions/${id}/approve`, {}),
      ]);
    const real = await tries(carols.body.id);
    const made = await tries(randomUUID());
    expect(real.map((r) => r.status)).toEqual([403, 403, 403]);
    expect(real.map((r) => r.body)).toEqual(made.map((r) => r.body));
    expect((await people.carol!.api.get(`${T}/grants/${carols.body.id}`)).body.state).toBe('requested');
  });
});

describe('notifications of the workflow', () => {
  it('emailed approvers when asked, the requester on every decision, and signed the webhooks', async () => {
    await server.tb.dispatcher.drain();
    const to = (name: string) => smtp.received.filter((m) => m.to.includes(people[name]!.email)).map((m) => m.subject);
    for (const lead of ['a1', 'a2', 'a3']) {
      expect(to(lead)).toContainEqual(expect.stringMatching(/Approval needed: alice\..* asks for access to db/));
    }
    expect(to('b1')).toContainEqual(expect.stringMatching(/Approval needed/));
    const alice = to('alice');
    expect(alice).toContainEqual(expect.stringMatching(/Your request for db was approved at level 1; further approval is still needed/));
    expect(alice).toContainEqual(expect.stringMatching(/Your request for db was shortened/));
    expect(alice).toContainEqual(expect.stringMatching(/Your extension of your access to db was approved/));
    expect(to('carol')).toContainEqual(expect.stringMatching(/Your request for db was denied/));
    expect(to('a1')).toContainEqual(expect.stringMatching(/BREAK-GLASS: carol\..* took emergency access to db/));
    for (const m of smtp.received) expect(m.raw).not.toMatch(/password:\s*\S{12,}/i);

    const glass = hooks.requests.filter((r) => r.headers['x-timebox-event'] === 'break_glass');
    expect(glass).toHaveLength(1);
    expect(verifyWebhookSignature(hookSecret, String(glass[0]!.headers['x-timebox-signature']), glass[0]!.rawBody, server.clock.now())).toBe(true);
    expect(verifyWebhookSignature('whsec_wrong_secret_0123456789abcdef', String(glass[0]!.headers['x-timebox-signature']), glass[0]!.rawBody, server.clock.now())).toBe(false);
    expect(JSON.parse(glass[0]!.rawBody)).toMatchObject({ event: 'break_glass' });
  });
});

describe('notifications around a grant', () => {
  it('warns the owner before the end, and tells owner and admins when a revocation fails', async () => {
    const quick = await server.admin.post(`${T}/policies`, {
      name: 'quick', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1200,
    });
    const { carol } = people;
    const g = await ask(carol!.api, { policyId: quick.body.id, durationSeconds: 1200 });
    expect(g.body.state).toBe('active');
    server.clock.shift(400_000); // 800 s left: inside the default 15-minute warning
    await server.tb.scheduler.drain();
    await server.tb.dispatcher.drain();
    const carolMail = smtp.received.filter((m) => m.to.includes(carol!.email)).map((m) => m.subject);
    expect(carolMail).toContainEqual(expect.stringMatching(/Access to db ends in 1[34] minutes/));

    // Someone takes the JIT role over by hand: Timebox refuses to touch a role that is not its own.
    const c = new pg.Client({ connectionString: target.db.url });
    await c.connect();
    await c.query(`COMMENT ON ROLE ${pg.escapeIdentifier(g.body.username)} IS 'hand edited'`);
    await c.end();
    const ended = await carol!.api.post(`${T}/grants/${g.body.id}/revoke`, { reason: 'done' });
    expect(ended.body.state).toBe('revoke_failed');
    await server.tb.dispatcher.drain();
    const failed = smtp.received.filter((m) => /ACTION NEEDED: revoking carol\..*'s access to db failed/.test(m.subject));
    expect(failed.map((m) => m.to[0])).toEqual(expect.arrayContaining([carol!.email]));
    expect(failed.length).toBeGreaterThanOrEqual(2); // the owner and at least one admin
  });
});

describe('the expiry warning', () => {
  it("is scheduled at the tenant's own lead, and a grant shorter than the lead gets none", async () => {
    const db = server.tb.store.db;
    const tenant = await db.selectFrom('tenants').select('id').where('slug', '=', 'default').executeTakeFirstOrThrow();
    const lead = await db.selectFrom('tenant_notification_settings').select('expiry_warning_seconds').where('tenant_id', '=', tenant.id).executeTakeFirst();
    expect(lead).toBeDefined();
    await db.updateTable('tenant_notification_settings').set({ expiry_warning_seconds: 600 }).where('tenant_id', '=', tenant.id).execute();
    try {
      const policy = await server.admin.post(`${T}/policies`, {
        name: 'lead', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1200,
      });
      const warningOf = async (grantId: string) =>
        (await db.selectFrom('scheduled_work').select('due_at').where('grant_id', '=', grantId).where('kind', '=', 'expiry_warning').executeTakeFirst())?.due_at ?? null;
      const long = await ask(people.alice!.api, { policyId: policy.body.id, durationSeconds: 1200 });
      expect(long.body.state).toBe('active');
      expect(await warningOf(long.body.id)).toEqual(new Date(new Date(long.body.expiresAt).getTime() - 600_000));
      const short = await ask(people.a2!.api, { policyId: policy.body.id, durationSeconds: 540 });
      expect(short.body.state).toBe('active');
      expect(await warningOf(short.body.id)).toBeNull();
    } finally {
      await db.updateTable('tenant_notification_settings').set({ expiry_warning_seconds: lead!.expiry_warning_seconds }).where('tenant_id', '=', tenant.id).execute();
    }
  });
});

describe('fresh authenticator codes demanded by policy', () => {
  const code = (secret: string, step = 0) => generate({ secret, epoch: Math.floor(server.clock.now().getTime() / 1000) + step * 30 });
  let policyId = '';

  beforeAll(async () => {
    const p = await server.admin.post(`${T}/policies`, {
      name: 'mfa db',
      targetId,
      requesterRoles: [],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 600,
      rules: { requesterOperatorIds: [people.alice!.id], approvalLevels: [{ approverIds: [people.b1!.id] }], mfa: { request: true, approve: true, reveal: true } },
    });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
    policyId = p.body.id;
  });

  it('refuses without an enrolled authenticator, then accepts fresh codes once each', async () => {
    const { alice, b1 } = people;
    const none = await ask(alice!.api, { policyId });
    expect(none.status).toBe(403);
    expect(none.body.error.message).toMatch(/requires multi-factor authentication; enrol an authenticator app first/);

    const enrol = async (api: ApiClient) => {
      const start = await api.post('/api/v1/me/mfa/totp');
      expect(start.status).toBe(200);
      const ok = await api.post('/api/v1/me/mfa/totp/confirm', { code: await code(start.body.secret, -1) });
      expect(ok.status).toBe(200);
      expect(ok.body.recoveryCodes).toHaveLength(10);
      return start.body.secret as string;
    };
    const aliceSecret = await enrol(alice!.api);
    const b1Secret = await enrol(b1!.api);

    const missing = await ask(alice!.api, { policyId });
    expect(missing.status).toBe(401);
    expect(missing.body.error.message).toBe('enter the 6-digit code from your authenticator app');
    const req = await ask(alice!.api, { policyId, totp: await code(aliceSecret) });
    expect(req.status).toBe(201);

    const noCode = await b1!.api.post(`${T}/grants/${req.body.id}/approve`, {});
    expect(noCode.status).toBe(401);
    const approved = await b1!.api.post(`${T}/grants/${req.body.id}/approve`, { totp: await code(b1Secret) });
    expect(approved.body.state).toBe('active');

    const reused = await alice!.api.post(`${T}/grants/${req.body.id}/credential`, { totp: await code(aliceSecret) });
    expect(reused.status).toBe(401);
    expect(reused.body.error.message).toBe('that code is wrong or was already used');
    const shown = await alice!.api.post(`${T}/grants/${req.body.id}/credential`, { totp: await code(aliceSecret, 1) });
    expect(shown.status).toBe(200);
    expect(shown.body.password).toBeTruthy();
  });
});

describe('policy validation', () => {
  const make = (rules: unknown) =>
    server.admin.post(`${T}/policies`, { name: `p-${randomBytes(3).toString('hex')}`, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600, rules });
  it.each([
    ['a window that never opens', { windows: [{ timeZone: 'Europe/Berlin', days: [], from: '08:00', to: '18:00' }] }, /never opens: the window has no days/],
    ['an unknown time zone', { windows: [{ timeZone: 'Mars/Olympus', days: ['mon'], from: '08:00', to: '18:00' }] }, /unknown time zone/],
    ['overlapping levels', () => ({ approvalLevels: [{ approverIds: [people.a1!.id] }, { approverIds: [people.a1!.id] }] }), /overlap/],
    ['a quorum larger than the approvers', () => ({ approvalLevels: [{ approverIds: [people.b1!.id], quorum: 3 }] }), /needs 3 approvals but has only 1/],
    ['an invalid ticket pattern', { ticket: { required: true, pattern: 'INC-(' } }, /not a valid regular expression/],
    ['a ticket pattern with a backreference', { ticket: { required: true, pattern: '(INC)-\\1' } }, /backreferences/],
    ['a ticket pattern with lookahead', { ticket: { required: true, pattern: 'INC-(?=9)\\d+' } }, /lookahead/],
  ])('refuses %s with a clear message', async (_n, rules, message) => {
    const res = await make(typeof rules === 'function' ? rules() : rules);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
  });
});
