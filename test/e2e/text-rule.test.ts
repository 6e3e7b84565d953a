/**
 * The text rule from the outside, on the fields where a NUL or a lone surrogate used to answer
 * 500 (token, member, tenant and enrolment-token names, policy entitlements, simulator emails),
 * where a lone surrogate was silently stored as U+FFFD, in queries, path parameters, agent routes
 * and sign-in: a 400 naming the field and the character, nothing created; a failed sign-in with
 * unreadable text is still audited. Blank reasons and bidi overrides in names are refused too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { apiClient } from '../support/http.js';

let server: TestServer;
const T = '/api/v1/tenants/default';
const NUL = 'bad\u0000name';
const SURROGATE = 'bad\ud800name';

async function counts() {
  const r = await sql<Record<string, number>>`select
    (select count(*) from api_tokens)::int as tokens, (select count(*) from operators)::int as operators,
    (select count(*) from tenants)::int as tenants, (select count(*) from agent_enrolment_tokens)::int as enrolment,
    (select count(*) from policies)::int as policies, (select count(*) from access_requests)::int as requests,
    (select count(*) from audit_events where action <> 'auth.login_failed')::int as audit`.execute(server.tb.store.db);
  return r.rows[0]!;
}

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const fields: Array<[string, string, string, (v: string) => unknown, string]> = [
  ['a token name', 'POST', '/api/v1/tokens', (v) => ({ name: v }), 'body.name'],
  ['a member display name', 'POST', `${T}/members`, (v) => ({ email: 'x@example.test', displayName: v, roles: ['requester'] }), 'body.displayName'],
  ['a member email', 'POST', `${T}/members`, (v) => ({ email: `${v}@example.test`, roles: ['requester'] }), 'body.email'],
  ['a tenant name', 'POST', '/api/v1/tenants', (v) => ({ slug: 'acme', name: v }), 'body.name'],
  ['an enrolment-token name', 'POST', `${T}/agents/enrolment-tokens`, (v) => ({ name: v, expiresInMinutes: 10 }), 'body.name'],
  ['a policy entitlement', 'POST', `${T}/policies`, (v) => ({ name: 'p', requesterRoles: ['requester'], maxDurationSeconds: 600, defaultDurationSeconds: 60, entitlements: [v] }), 'body.entitlements[0]'],
  ['a simulator email', 'POST', `${T}/policies/simulate`, (v) => ({ operatorEmail: v, targetId: '00000000-0000-4000-8000-000000000000', entitlements: ['r'] }), 'body.operatorEmail'],
];

describe.each([
  ['a NUL', NUL, /must not contain control characters \(NUL, U\+0000 at position 4\)/],
  ['a lone surrogate', SURROGATE, /is not valid Unicode text \(a lone surrogate U\+D800 at position 4\)/],
])('%s', (_label, value, problem) => {
  it.each(fields)('in %s: 400 naming the field, nothing created', async (_what, method, path, body, field) => {
    const before = await counts();
    const res = await server.admin.call(method, path, body(value));
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.details.issues[0].path).toBe(field);
    expect(res.body.error.message).toMatch(problem);
    expect(await counts()).toEqual(before);
  });

  it('in a query or a path parameter: 400', async () => {
    const encoded = value === NUL ? 'bad%00name' : 'bad%ED%A0%80name';
    // (bytes that are not UTF-8 at all: what a lone surrogate becomes on the wire)
    const query = await server.admin.get(`${T}/audit?actorId=${encoded}`);
    expect(query.status).toBe(400);
    expect(query.body.error.message).toMatch(/^Actor ID in the query /);
    const param = await server.admin.get(`/api/v1/tenants/${encoded}/targets`);
    expect(param.status).toBe(400);
  });

  it('at agent enrolment (public, before any signature): 400', async () => {
    const res = await apiClient(server.url).post('/api/v1/agents/enroll', { token: value, publicKey: 'x', hostname: 'h', version: '1' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^Token /);
  });

  it('in a sign-in email: refused with 400 and audited as a failed sign-in', async () => {
    const res = await apiClient(server.url).post('/api/v1/auth/login', { email: `eve${value}@example.test`, password: 'whatever-it-is' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^Email /);
    const events = await server.tb.store.db
      .selectFrom('audit_events')
      .select(['reason', 'after'])
      .where('action', '=', 'auth.login_failed')
      .orderBy('seq', 'desc')
      .limit(1)
      .execute();
    const escaped = value === NUL ? 'eve' + 'bad\\u0000name' : 'eve' + 'bad\\ud800name';
    expect(events[0]).toMatchObject({ reason: 'unreadable text', after: { email: `${escaped}@example.test` } });
  });
});

describe('names and reasons', () => {
  it('refuses bidi overrides and invisible characters in names, keeps other scripts', async () => {
    for (const bad of ['admin\u202egnp.exe', 'a\u2066b\u2069', 'zero\u200bwidth']) {
      const res = await server.admin.post('/api/v1/tokens', { name: bad });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/^Name must not contain invisible formatting characters/);
    }
    // Names that look blank: letters drawn as nothing, variation selectors, accents alone.
    for (const [blank, message] of [
      ['\u3164', /^Name must not contain invisible formatting characters/],
      ['\ufe0f\ufe0f\ufe0f', /^Name must not contain invisible formatting characters/],
      ['\u0301\u0302', /^Name must contain a letter, digit or sign a person can see/],
    ] as const) {
      const res = await server.admin.post('/api/v1/tokens', { name: blank });
      expect(res.status, JSON.stringify(blank)).toBe(400);
      expect(res.body.error.message).toMatch(message);
    }
    // The invitation's display name, chosen by whoever holds the link: the same rule.
    const accepted = await server.admin.post('/api/v1/invitations/accept', { token: 'x'.repeat(43), password: 'Long-enough-pass-1', displayName: 'Ann\u200bLee' });
    expect(accepted.status).toBe(400);
    expect(accepted.body.error.details.issues[0].path).toBe('body.displayName');
    const ok = await server.admin.post('/api/v1/tokens', { name: '  Zoë – ключ 🔑  ' });
    expect(ok.status).toBe(201);
    expect(ok.body.name).toBe('Zoë – ключ 🔑');
  });

  it('refuses them in the names of a policy\'s approval levels and auto-approve rules, saving nothing', async () => {
    const before = await counts();
    const policy = (rules: unknown) => ({ name: 'p', requesterRoles: ['requester'], maxDurationSeconds: 600, defaultDurationSeconds: 60, rules });
    for (const [rules, field] of [
      [{ approvalLevels: [{ name: 'managers\u202e', approverIds: [] }] }, 'body.rules.approvalLevels[0].name'],
      [{ autoApprove: [{ name: 'night\u200bshift', maxDurationSeconds: 60 }] }, 'body.rules.autoApprove[0].name'],
    ] as const) {
      const res = await server.admin.post(`${T}/policies`, policy(rules));
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.details.issues[0].path).toBe(field);
      expect(res.body.error.message).toMatch(/must not contain invisible formatting characters/);
    }
    expect(await counts()).toEqual(before);
  });

  it('refuses bidi reordering in a reason or note (it would reverse what the approver reads), keeps right-to-left marks', async () => {
    const before = await counts();
    for (const reason of ['INC-7 \u202eexe.llehsrewop', 'fix \u2066x\u2069 now', 'a \u202ab']) {
      const res = await server.admin.post(`${T}/requests`, {
        targetId: '00000000-0000-4000-8000-000000000000', entitlements: ['r'], durationSeconds: 600, reason,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.details.issues[0].path).toBe('body.reason');
      expect(res.body.error.message).toMatch(/must not contain invisible formatting characters such as direction overrides/);
    }
    expect(await counts()).toEqual(before);
    // A right-to-left mark is how Hebrew or Arabic text keeps its punctuation in place: not refused
    // by the text rule (this request fails later, on its made-up target).
    const rtl = await server.admin.post(`${T}/requests`, {
      targetId: '00000000-0000-4000-8000-000000000000', entitlements: ['r'], durationSeconds: 600, reason: 'תיקון דחוף\u200f!',
    });
    expect(rtl.status).toBe(404);
  });

  it('refuses a blank reason (one space is no reason)', async () => {
    const res = await server.admin.post(`${T}/requests`, {
      targetId: '00000000-0000-4000-8000-000000000000', entitlements: ['r'], durationSeconds: 600, reason: ' ',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^Reason: a reason is required/);
  });

  it('refuses bodies nested deeper than any request needs', async () => {
    let config: unknown = 'x';
    for (let i = 0; i < 40; i++) config = { a: config };
    const res = await server.admin.post(`${T}/targets`, { name: 'deep', kind: 'postgres', config });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/is nested more than 32 levels deep/);
    // Named once, by the field where it starts, not by a path of 32 keys.
    expect(res.body.error.details.issues).toEqual([{ path: 'body.config', message: 'is nested more than 32 levels deep' }]);
    expect(res.body.error.message.length).toBeLessThan(80);
  });
});
