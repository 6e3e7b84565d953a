/**
 * Rules that bind approvers and step-up, through the API against a real PostgreSQL target:
 * an approver cannot move a start outside the policy's access windows (422, nothing changed),
 * nor approve late into a closed window, nor can an extension run past one; a request nobody can
 * approve is refused, and an approval stops counting once its approver may no longer approve;
 * and a fresh authenticator code is asked exactly where a policy demands one — an enrolled
 * operator is not asked elsewhere, and is asked (and refused without it) where it is demanded.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { generate } from 'otplib';
import { preparePgTarget, type PgTarget } from '../support/pg-target.js';
import { createMember, startTestServer, type TestServer } from '../support/test-server.js';
import type { ApiClient } from '../support/http.js';

const T = '/api/v1/tenants/default';
let server: TestServer;
let target: PgTarget;
let targetId: string;

async function person(name: string, roles: string[]): Promise<{ id: string; email: string; api: ApiClient }> {
  const email = `${name}.${randomBytes(3).toString('hex')}@example.com`;
  const m = await createMember(server.tb, 'default', email, roles);
  return { id: m.id, email, api: m.api };
}

async function policy(rules: Record<string, unknown>): Promise<string> {
  const res = await server.admin.post(`${T}/policies`, {
    name: `p-${randomBytes(3).toString('hex')}`,
    targetId,
    requesterRoles: ['requester'],
    maxDurationSeconds: 3600,
    defaultDurationSeconds: 600,
    rules,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

beforeAll(async () => {
  server = await startTestServer();
  target = await preparePgTarget(inject('pgAdminUrl'));
  const added = await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config });
  expect(added.status).toBe(201);
  targetId = added.body.target.id;
}, 60_000);

afterAll(async () => {
  await server?.close();
  await target?.drop();
});

describe('an approver moving the start', () => {
  it('is refused outside the access windows (422, the request unchanged) and accepted inside them', async () => {
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const now = server.clock.now().getTime();
    // Open from an hour ago until two hours from now, every day (UTC).
    const window = { timeZone: 'UTC', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: hhmm(now - 3_600_000), to: hhmm(now + 7_200_000) };
    const approver = await person('approver', ['approver']);
    const pid = await policy({ windows: [window], maxScheduleAheadDays: 2, approvalLevels: [{ approverIds: [approver.id] }] });
    const alice = await person('alice', ['requester']);
    const startAt = new Date(now + 20 * 60_000).toISOString();
    const req = await alice.api.post(`${T}/requests`, { targetId, policyId: pid, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-11 scheduled work', startAt });
    expect(req.status, JSON.stringify(req.body)).toBe(201);
    expect(req.body.state).toBe('requested');

    const outside = await approver.api.post(`${T}/grants/${req.body.id}/approve`, { startAt: new Date(now + 6 * 3_600_000).toISOString() });
    expect(outside.status).toBe(422);
    expect(outside.body.error.message).toMatch(/the new start is outside policy .*access is allowed only every day/);
    // Running past the window's end is refused too.
    const late = await approver.api.post(`${T}/grants/${req.body.id}/approve`, { startAt: new Date(now + 100 * 60_000).toISOString() });
    expect(late.status).toBe(422);
    expect(late.body.error.message).toMatch(/would run past the end of the access window/);
    const unchanged = (await alice.api.get(`${T}/grants/${req.body.id}`)).body;
    expect(unchanged).toMatchObject({ state: 'requested', requestedStartAt: req.body.requestedStartAt });

    const inside = await approver.api.post(`${T}/grants/${req.body.id}/approve`, { startAt: new Date(now + 40 * 60_000).toISOString() });
    expect(inside.status, JSON.stringify(inside.body)).toBe(200);
    expect(inside.body.state).toBe('approved');
  });
});

describe('access windows hold at every step', () => {
  const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
  const everyDay = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

  it('refuses a last approval that would start the access after its window closed; denying still works', async () => {
    const now = server.clock.now().getTime();
    // Open from an hour ago until two hours from now, every day (UTC).
    const window = { timeZone: 'UTC', days: everyDay, from: hhmm(now - 3_600_000), to: hhmm(now + 7_200_000) };
    const approver = await person('approver', ['approver']);
    const pid = await policy({ windows: [window], approvalLevels: [{ approverIds: [approver.id] }] });
    const bea = await person('bea', ['requester']);
    const req = await bea.api.post(`${T}/requests`, { targetId, policyId: pid, entitlements: [target.readers], durationSeconds: 600, reason: 'INC-12 inside the window' });
    expect(req.status, JSON.stringify(req.body)).toBe(201);
    server.clock.shift(3 * 3_600_000); // the approver gets to it three hours later: the window has closed
    try {
      const late = await approver.api.post(`${T}/grants/${req.body.id}/approve`, {});
      expect(late.status, JSON.stringify(late.body)).toBe(422);
      expect(late.body.error.message).toMatch(/^approved now, this access would be outside policy "p-[0-9a-f]+": access is allowed only every day .*approve it with a start \(startAt\) inside the window, or deny it$/);
      expect((await bea.api.get(`${T}/grants/${req.body.id}`)).body).toMatchObject({ state: 'requested', startsAt: null });
      const denied = await approver.api.post(`${T}/grants/${req.body.id}/deny`, { reason: 'too late today' });
      expect(denied.body.state, JSON.stringify(denied.body)).toBe('denied');
    } finally {
      server.clock.shift(-3 * 3_600_000);
    }
  });

  it('refuses an extension that would run the access past its window, and says how much still fits', async () => {
    const now = server.clock.now().getTime();
    // Closes in 30 minutes (to the minute).
    const closes = Math.floor((now + 30 * 60_000) / 60_000) * 60_000;
    const window = { timeZone: 'UTC', days: everyDay, from: hhmm(now - 3_600_000), to: hhmm(closes) };
    const pid = await policy({ windows: [window], extension: { allowed: true, maxTotalSeconds: 7200, selfApprove: true } });
    const cai = await person('cai', ['requester']);
    const held = await cai.api.post(`${T}/requests`, { targetId, policyId: pid, entitlements: [target.readers], durationSeconds: 600, reason: 'INC-13 inside the window' });
    expect(held.body.state, JSON.stringify(held.body)).toBe('active');
    const tooLong = await cai.api.post(`${T}/grants/${held.body.id}/extend`, { seconds: 3000, reason: 'need more' });
    expect(tooLong.status, JSON.stringify(tooLong.body)).toBe(422);
    expect(tooLong.body.error.message).toContain(`this one closes at ${new Date(closes).toISOString()}; you can extend by at most`);
    const still = (await cai.api.get(`${T}/grants/${held.body.id}`)).body;
    expect(still.expiresAt).toBe(held.body.expiresAt);
    // What fits is given.
    const fits = await cai.api.post(`${T}/grants/${held.body.id}/extend`, { seconds: 300, reason: 'a little more' });
    expect(fits.status, JSON.stringify(fits.body)).toBe(200);
    expect(fits.body.applied).toBe(true);
  });

  it('lets break-glass access, given outside the windows on purpose, be extended outside them too', async () => {
    const now = server.clock.now().getTime();
    // Opens in an hour: now is outside.
    const window = { timeZone: 'UTC', days: everyDay, from: hhmm(now + 3_600_000), to: hhmm(now + 7_200_000) };
    const pid = await policy({ windows: [window], breakGlass: { allowed: true }, extension: { allowed: true, maxTotalSeconds: 7200, selfApprove: true } });
    const dan = await person('dan', ['requester']);
    const urgent = await dan.api.post(`${T}/requests`, { targetId, policyId: pid, entitlements: [target.readers], durationSeconds: 600, reason: 'outage: orders stuck', emergency: true });
    expect(urgent.body.state, JSON.stringify(urgent.body)).toBe('active');
    const more = await dan.api.post(`${T}/grants/${urgent.body.id}/extend`, { seconds: 600, reason: 'still fixing' });
    expect(more.status, JSON.stringify(more.body)).toBe(200);
    expect(more.body.applied).toBe(true);
  });
});

describe('approval levels nobody can complete', () => {
  it('refuses a request whose quorum only the requester could make up, and one whose only approver was demoted', async () => {
    const dee = await person('dee', ['requester', 'approver']);
    const eli = await person('eli', ['approver']);
    const both = await policy({ approvalLevels: [{ name: 'pair', approverIds: [dee.id, eli.id], quorum: 2 }] });
    const ask = (policyId: string) => ({ targetId, policyId, entitlements: [target.readers], durationSeconds: 600, reason: 'INC-14 quorum' });
    const mine = await dee.api.post(`${T}/requests`, ask(both));
    expect(mine.status, JSON.stringify(mine.body)).toBe(422);
    expect(mine.body.error.message).toMatch(/^nobody can approve this request: policy "p-[0-9a-f]+" level 1 \("pair"\) needs 2 approval\(s\), and only 1 of its approvers other than you can approve now/);
    // Someone else is served: both approvers can decide for them.
    const fay = await person('fay', ['requester']);
    expect((await fay.api.post(`${T}/requests`, ask(both))).status).toBe(201);

    const gus = await person('gus', ['approver']);
    const alone = await policy({ approvalLevels: [{ approverIds: [gus.id] }] });
    expect((await server.admin.post(`${T}/members`, { email: gus.email, roles: ['auditor'] })).status).toBe(200);
    const stuck = await fay.api.post(`${T}/requests`, ask(alone));
    expect(stuck.status, JSON.stringify(stuck.body)).toBe(422);
    expect(stuck.body.error.message).toContain('needs 1 approval(s), and only 0 of its approvers other than you can approve now');
  });

  it("stops counting an approval once its approver may no longer approve: the quorum is made by those who still may", async () => {
    const [hal, ivy, joe] = await Promise.all([person('hal', ['approver']), person('ivy', ['approver']), person('joe', ['approver'])]);
    const pid = await policy({ approvalLevels: [{ approverIds: [hal.id, ivy.id, joe.id], quorum: 2 }] });
    const kim = await person('kim', ['requester']);
    const req = await kim.api.post(`${T}/requests`, { targetId, policyId: pid, entitlements: [target.readers], durationSeconds: 600, reason: 'INC-15 two of three' });
    expect(req.body.state, JSON.stringify(req.body)).toBe('requested');
    expect((await hal.api.post(`${T}/grants/${req.body.id}/approve`, {})).body.state).toBe('requested');
    // hal is demoted: his approval no longer counts.
    expect((await server.admin.post(`${T}/members`, { email: hal.email, roles: ['auditor'] })).status).toBe(200);
    const second = await ivy.api.post(`${T}/grants/${req.body.id}/approve`, {});
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.state).toBe('requested');
    const third = await joe.api.post(`${T}/grants/${req.body.id}/approve`, {});
    expect(third.body.state, JSON.stringify(third.body)).toBe('active');
  });
});

describe('fresh authenticator codes', () => {
  const code = (secret: string, step = 0) => generate({ secret, epoch: Math.floor(server.clock.now().getTime() / 1000) + step * 30 });

  it('are asked of an enrolled operator where the policy demands them, and only there', async () => {
    const bob = await person('bob', ['requester']);
    const start = await bob.api.post('/api/v1/me/mfa/totp');
    expect(start.status).toBe(200);
    const secret = start.body.secret as string;
    expect((await bob.api.post('/api/v1/me/mfa/totp/confirm', { code: await code(secret, -1) })).status).toBe(200);

    const plain = await policy({});
    const asked = await bob.api.post(`${T}/requests`, { targetId, policyId: plain, entitlements: [target.readers], reason: 'INC-11 no step-up here' });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    expect(asked.body.state).toBe('active');
    expect((await bob.api.post(`${T}/grants/${asked.body.id}/credential`, {})).status).toBe(200);

    const stepUp = await policy({ mfa: { request: true, approve: false, reveal: false } });
    const body = { targetId, policyId: stepUp, entitlements: [target.writers], reason: 'INC-11 step-up demanded' };
    const without = await bob.api.post(`${T}/requests`, body);
    expect(without.status).toBe(401);
    expect(without.body.error).toMatchObject({ message: 'enter the 6-digit code from your authenticator app', details: { mfa: 'required' } });
    const mine = (await bob.api.get(`${T}/grants?mine=true`)).body.items;
    expect(mine.filter((g: { policyId: string }) => g.policyId === stepUp)).toEqual([]);
    const withCode = await bob.api.post(`${T}/requests`, { ...body, totp: await code(secret) });
    expect(withCode.status, JSON.stringify(withCode.body)).toBe(201);
  });
});
