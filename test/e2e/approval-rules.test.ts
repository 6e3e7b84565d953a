/**
 * Rules that bind approvers and step-up, through the API against a real PostgreSQL target:
 * an approver cannot move a start outside the policy's access windows (422, nothing changed),
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

async function person(name: string, roles: string[]): Promise<{ id: string; api: ApiClient }> {
  const email = `${name}.${randomBytes(3).toString('hex')}@example.com`;
  const m = await createMember(server.tb, 'default', email, roles);
  return { id: m.id, api: m.api };
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
