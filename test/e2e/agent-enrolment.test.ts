/**
 * The server side of the agent protocol from the outside, with the agent's own client code and no
 * host: one-time enrolment tokens (used twice, expired or unknown: refused, nothing created),
 * signed requests (stale, replayed, tampered, unknown: 401), the long poll (answers as soon as the
 * version changes), the password's trip through the desired state and its erasure, journal
 * idempotence, the revocation handshake (the server waits for the agent's confirmation, unless the
 * agent never received the grant), one host target per agent, and an agent revoked by an admin.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { enrollAgent, IDENTITY_FILE, KEY_FILE } from '../../src/agent/identity.js';
import type { AgentClient } from '../../src/agent/http-client.js';
import { httpRequest } from '../../src/agent/http-client.js';
import { signRequest } from '../../src/agent-wire/signing.js';
import { agentsDb } from '../../src/store/schema-agents.js';
import { MAX_POLLS_PER_AGENT } from '../../src/http/routes/agent-routes.js';
import { loadIdentity } from '../../src/agent/identity.js';
import { agentClientFrom, hostTargetWithPolicy, startRestartableServer, type RestartableServer } from './agent-support.js';

let server: RestartableServer;
let stateDir: string;
let spareDir: string;
let agent: AgentClient;
let agentId: string;
const T = '/api/v1/tenants/default';

beforeAll(async () => {
  server = await startRestartableServer();
  stateDir = await mkdtemp(path.join(tmpdir(), 'tb-agent-id-'));
  spareDir = await mkdtemp(path.join(tmpdir(), 'tb-agent-spare-'));
});

afterAll(async () => {
  await server?.destroy();
  for (const d of [stateDir, spareDir]) if (d) await rm(d, { recursive: true, force: true });
});

const token = async (body: Record<string, unknown> = {}) => {
  const r = await server.admin.post(`${T}/agents/enrolment-tokens`, { expiresInMinutes: 10, ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.token as string;
};
const fleet = async () => (await server.admin.get(`${T}/agents`)).body.items as Array<Record<string, any>>;
const poll = (q: string, signal?: AbortSignal) => agent.call('GET', `/api/v1/agents/desired-state?${q}`, undefined, { timeoutMs: 40_000, signal });

it('enrols with a one-time token: the key stays on the host; used twice, expired or unknown is refused and creates nothing', async () => {
  const t = await token({ name: 'web-01' });
  expect(t).toMatch(/^tbe_[A-Za-z0-9_-]{43}$/);
  const id = await enrollAgent({ server: server.url, token: t, stateDir, hostname: 'web-01.example.test' });
  agentId = id.agentId;
  expect(id).toMatchObject({ name: 'web-01', tenant: 'default' });
  for (const f of [IDENTITY_FILE, KEY_FILE]) expect((await stat(path.join(stateDir, f))).mode & 0o777).toBe(0o600);
  agent = await agentClientFrom(stateDir);
  const [row] = await fleet();
  expect(row).toMatchObject({ id: agentId, name: 'web-01', hostname: 'web-01.example.test', revoked: false, desiredVersion: 1 });
  const stored = await agentsDb(server.tb.store.db).selectFrom('agents').select('public_key').executeTakeFirstOrThrow();
  expect(stored.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  expect(stored.public_key).not.toMatch(/PRIVATE/);

  // The same token again, from another host: refused, nothing written on either side.
  await expect(enrollAgent({ server: server.url, token: t, stateDir: spareDir, hostname: 'web-02' })).rejects.toThrow(/already used/);
  expect(await readdir(spareDir)).toEqual([]);
  // Expired (the server's clock moves past it), unknown: refused likewise.
  const late = await token({ expiresInMinutes: 1 });
  server.clock.shift(2 * 60_000);
  try {
    await expect(enrollAgent({ server: server.url, token: late, stateDir: spareDir, hostname: 'web-02' })).rejects.toThrow(/expired/);
  } finally {
    server.clock.shift(-2 * 60_000);
  }
  await expect(enrollAgent({ server: server.url, token: `tbe_${'x'.repeat(43)}`, stateDir: spareDir, hostname: 'web-02' })).rejects.toThrow(/not valid/);
  expect(await readdir(spareDir)).toEqual([]);
  expect(await fleet()).toHaveLength(1);
  // Bad input at enrolment is a 400 naming the field.
  const bad = await server.admin.post('/api/v1/agents/enroll', { token: late, publicKey: 'nope', hostname: '../etc', version: '1' });
  expect(bad.status).toBe(400);
  expect(bad.body.error.message).toMatch(/hostname/);
  const badKey = await server.admin.post('/api/v1/agents/enroll', { token: late, publicKey: 'nope', hostname: 'web-02', version: '1' });
  expect(badKey.status).toBe(400);
  expect(badKey.body.error.message).toBe('Public key is not a PEM public key.');
  expect(badKey.body.error.details.issues).toEqual([{ path: 'body.publicKey', message: 'is not a PEM public key' }]);
});

it('refuses unsigned, stale, replayed, tampered and unknown requests with 401', async () => {
  const enrolled = (await loadIdentity(stateDir))!;
  const url = new URL('/api/v1/agents/heartbeat', server.url);
  const body = JSON.stringify({ version: '0.1.0', health: { appliedVersion: -1 } });
  const send = (headers: Record<string, string>, b = body) => httpRequest(url, 'POST', { ...headers, 'content-type': 'application/json' }, b, { timeoutMs: 10_000 });
  const sign = (nowMs?: number, id = agentId) => signRequest(enrolled.key, { agentId: id, method: 'POST', path: url.pathname, body }, nowMs);

  expect((await send({})).status).toBe(401);
  const ok = sign();
  expect((await send(ok)).status).toBe(200);
  const replay = await send(ok);
  expect(replay.status).toBe(401);
  expect(replay.text).toMatch(/replayed/);
  const stale = await send(sign(Date.now() - 5 * 60_000));
  expect(stale.status).toBe(401);
  expect(stale.text).toMatch(/the request timestamp is 30\d s behind the server's clock/);
  const ahead = await send(sign(Date.now() + 5 * 60_000));
  expect(ahead.status).toBe(401);
  expect(ahead.text).toMatch(/the request timestamp is (29\d|30\d) s ahead of the server's clock/);
  const tampered = await send(sign(), body.replace('-1', '7'));
  expect(tampered.status).toBe(401);
  expect(tampered.text).toMatch(/bad signature/);
  expect((await send(sign(undefined, '00000000-0000-4000-8000-000000000000'))).status).toBe(401);
  // A body that is not JSON is never checked against a signature of the empty body: refused.
  for (const contentType of ['text/plain', 'application/octet-stream']) {
    const emptySigned = signRequest(enrolled.key, { agentId, method: 'POST', path: url.pathname, body: '' });
    const other = await httpRequest(url, 'POST', { ...emptySigned, 'content-type': contentType }, body, { timeoutMs: 10_000 });
    expect(other.status, other.text).toBe(415);
    expect(other.text).toMatch(/send application\/json/);
  }
  // Operator tokens mean nothing here.
  expect((await server.admin.get('/api/v1/agents/desired-state?since=-1')).status).toBe(401);
  // The agent API is in the OpenAPI document like every other route.
  const doc = await server.admin.get('/api/openapi.json');
  expect(doc.status).toBe(200);
  for (const p of ['/api/v1/agents/enroll', '/api/v1/agents/desired-state', '/api/v1/agents/journal', '/api/v1/agents/heartbeat', '/api/v1/tenants/{tenant}/agents']) {
    expect(Object.keys(doc.body.paths)).toContain(p);
  }
});

it('serves the desired state by long poll; the password travels once and is erased; ends wait for the agent', async () => {
  const first = await poll('since=-1');
  expect(first.status).toBe(200);
  const v1 = JSON.parse(first.text);
  expect(v1).toMatchObject({ schemaVersion: 1, grants: [] });
  const quiet = Date.now();
  expect((await poll(`since=${v1.version}&applied=${v1.version}&wait=1`)).status).toBe(204);
  expect(Date.now() - quiet).toBeLessThan(5_000);

  const { targetId, check } = await hostTargetWithPolicy(server.admin, agentId, { sudoRules: { all: { commands: ['ALL'] } }, groups: ['adm'] });
  expect(check.ok).toBe(true);
  // One host target per agent; a target naming an unknown agent is refused.
  expect((await server.admin.post(`${T}/targets`, { name: 'again', kind: 'linux-agent', config: { agentId } })).status).toBe(409);
  const ghost = await server.admin.post(`${T}/targets`, { name: 'ghost', kind: 'linux-agent', config: { agentId: '00000000-0000-4000-8000-000000000000' } });
  expect(ghost.status).toBe(400);
  const ents = await server.admin.get(`${T}/targets/${targetId}/entitlements`);
  expect(ents.body.items.map((e: { externalId: string }) => e.externalId)).toEqual(['administrators', 'power-users', 'users', 'sudo:all', 'group:adm']);

  // A long poll held now is answered as soon as a grant changes the version.
  const held = poll(`since=${v1.version}&applied=${v1.version}&wait=20`);
  await new Promise((r) => setTimeout(r, 300));
  const asked = Date.now();
  const req = await server.admin.post(`${T}/requests`, { targetId, entitlements: ['administrators', 'sudo:all'], durationSeconds: 600, reason: 'agent protocol test', accountName: 'ann_jit' });
  expect(req.status, JSON.stringify(req.body)).toBe(201);
  expect(req.body.state).toBe('active');
  const grantId = req.body.id as string;
  const answered = await held;
  expect(answered.status).toBe(200);
  expect(Date.now() - asked).toBeLessThan(5_000);
  const v2 = JSON.parse(answered.text);
  expect(v2.version).toBeGreaterThan(v1.version);
  const sent = v2.grants[0];
  expect(sent).toMatchObject({ grantId, kind: 'local-account', username: 'ann_jit', role: 'administrators', serverPassword: true, endAction: 'delete' });
  expect(sent.sudo).toMatchObject({ commands: ['ALL'], runAs: ['root'] });
  expect(Date.parse(sent.endAt) - Date.parse(sent.startAt)).toBe(600_000);
  const cred = await server.admin.post(`${T}/grants/${grantId}/credential`);
  expect(cred.body).toMatchObject({ username: 'ann_jit', password: sent.password });

  // The agent reports the account set up: the password leaves the desired state and the store.
  const entry = (event: string, extra: Record<string, unknown> = {}) => ({ id: `${grantId}:${event}`, at: new Date().toISOString(), grantId, event, message: `${event} by the test`, ...extra });
  const up = await agent.call('POST', '/api/v1/agents/journal', { entries: [entry('accepted'), entry('provisioned')] }, { timeoutMs: 10_000 });
  expect(JSON.parse(up.text)).toEqual({ stored: 2, duplicates: 0 });
  const again = await agent.call('POST', '/api/v1/agents/journal', { entries: [entry('accepted')] }, { timeoutMs: 10_000 });
  expect(JSON.parse(again.text)).toEqual({ stored: 0, duplicates: 1 });
  const v3 = JSON.parse((await poll(`since=${v2.version}&applied=${v2.version}&wait=5`)).text);
  expect(v3.grants[0].grantId).toBe(grantId);
  expect(v3.grants[0]).not.toHaveProperty('password');
  const row = await agentsDb(server.tb.store.db).selectFrom('agent_grants').selectAll().executeTakeFirstOrThrow();
  expect(row.password_enc).toBeNull();

  // Ended early: out of the desired state at once, but "revoked" only once the agent confirms.
  const revoked = await server.admin.post(`${T}/grants/${grantId}/revoke`, { reason: 'done' });
  expect(revoked.body.state).toBe('revoking');
  expect(revoked.body.lastError).toMatch(/waiting for the agent on web-01.example.test to confirm the end/);
  const v4 = JSON.parse((await poll(`since=${v3.version}&applied=${v3.version}&wait=5`)).text);
  expect(v4.grants).toEqual([]);
  await agent.call('POST', '/api/v1/agents/journal', { entries: [entry('ended', { verified: { accountExists: false, processes: 0 } })] }, { timeoutMs: 10_000 });
  const done = await waitForState(grantId, 'revoked');
  expect(done.lastError).toBeNull();

  // A grant taken away before the agent ever applied a state listing it is simply gone.
  const req2 = await server.admin.post(`${T}/requests`, { targetId, entitlements: ['users'], durationSeconds: 600, reason: 'never reaches the host' });
  expect(req2.body.state).toBe('active');
  const gone = await server.admin.post(`${T}/grants/${req2.body.id}/revoke`, { reason: 'changed my mind' });
  expect(gone.body.state).toBe('revoked');
  const fleetRow = (await fleet())[0]!;
  expect(fleetRow.lastSeenAt).not.toBeNull();
  expect(fleetRow.appliedVersion).toBe(v3.version);

  // The host refuses a grant after the request answered: it is ended at once with the agent's reason.
  const req3 = await server.admin.post(`${T}/requests`, { targetId, entitlements: ['users'], durationSeconds: 600, reason: 'the host says no' });
  expect(req3.body.state).toBe('active');
  const g3 = req3.body.id as string;
  await agent.call('POST', '/api/v1/agents/journal', {
    entries: [{ id: `${g3}:rejected`, at: new Date().toISOString(), grantId: g3, event: 'rejected', message: 'group adm does not exist on this host' }],
  }, { timeoutMs: 10_000 });
  const refused = await waitForState(g3, 'revoked');
  expect(refused.endReason).toBe('the agent on web-01.example.test refused the grant: group adm does not exist on this host');
});

it('Trigger-it mode: the agent makes the password and emails it to the end user; the server never has it', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tb-agent-mail-'));
  try {
    const id = await enrollAgent({ server: server.url, token: await token({ name: 'kiosk-7' }), stateDir: dir, hostname: 'kiosk-7' });
    const added = await server.admin.post(`${T}/agents/${id.agentId}/target`, { name: 'kiosk-7', credentialDelivery: 'agent-email', emailTo: 'end.user@example.test' });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    await server.admin.post(`${T}/policies`, { name: 'kiosk', targetId: added.body.target.id, requesterRoles: ['owner'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
    const req = await server.admin.post(`${T}/requests`, { targetId: added.body.target.id, entitlements: ['power-users'], durationSeconds: 900, reason: 'temporary kiosk access', accountName: 'kiosk_jit' });
    expect(req.status, JSON.stringify(req.body)).toBe(201);
    expect(req.body.credentialAvailable).toBe(false);
    const client = await agentClientFrom(dir);
    const state = JSON.parse((await client.call('GET', '/api/v1/agents/desired-state?since=-1', undefined, { timeoutMs: 10_000 })).text);
    expect(state.grants).toEqual([
      expect.objectContaining({ username: 'kiosk_jit', role: 'power-users', serverPassword: false, passwordDelivery: { channel: 'email', to: 'end.user@example.test' } }),
    ]);
    expect(state.grants[0]).not.toHaveProperty('password');
    // A bad address is refused when the target is configured, not on the host.
    const bad = await server.admin.post(`${T}/targets`, { name: 'bad-mail', kind: 'linux-agent', config: { agentId: id.agentId, credentialDelivery: 'agent-email', emailTo: 'not an address' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/Recipient email must be an email address/);
    expect(bad.body.error.details.issues[0].path).toBe('config.emailTo');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

async function waitForState(grantId: string, state: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const g = await server.admin.get(`${T}/grants/${grantId}`);
    if (g.body.state === state) return g.body;
    if (Date.now() > deadline) throw new Error(`grant ${grantId} is ${g.body.state}, not ${state}: ${g.body.lastError}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('takes drift reports only about grants the agent was given: another host\'s grant or an id that is none changes nothing (and is no 500)', async () => {
  // A second host with its own agent and a live grant there.
  const other = await enrollAgent({ server: server.url, token: await token({ name: 'db-01' }), stateDir: spareDir, hostname: 'db-01.example.test' });
  const added = await server.admin.post(`${T}/agents/${other.agentId}/target`, { name: 'db-01' });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  await server.admin.post(`${T}/policies`, { name: 'db-01 access', targetId: added.body.target.id, requesterRoles: ['owner'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
  const theirs = await server.admin.post(`${T}/requests`, { targetId: added.body.target.id, entitlements: ['users'], durationSeconds: 600, reason: 'a grant on the other host' });
  expect(theirs.body.state, JSON.stringify(theirs.body)).toBe('active');

  const alertsBefore = (await server.admin.get(`${T}/alerts`)).body.items.length;
  const drift = (id: string, grantId: string) => ({
    id, at: new Date().toISOString(), grantId, event: 'drift', code: 'drift_unrepaired', message: 'root login re-enabled',
    findings: [{ kind: 'login', subject: 'root', expected: 'disabled', actual: 'enabled' }],
  });
  // This agent (web-01) speaks of db-01's grant, then of something that is not an id at all.
  const sent = await agent.call('POST', '/api/v1/agents/journal', { entries: [drift('d-foreign', theirs.body.id), drift('d-junk', 'not-a-uuid')] }, { timeoutMs: 10_000 });
  expect(sent.status, sent.text).toBe(200);
  expect(JSON.parse(sent.text)).toEqual({ stored: 2, duplicates: 0 });
  expect((await server.admin.get(`${T}/alerts`)).body.items.length).toBe(alertsBefore);
  const audit = await server.admin.get(`${T}/audit?limit=200`);
  expect(audit.body.items.filter((e: { action: string }) => e.action.startsWith('drift.'))).toEqual([]);
});

it('one agent holds at most a few polls: a newer one answers the oldest (204), so a flood holds no more', async () => {
  const current = await poll('since=-1&wait=0');
  const since = (JSON.parse(current.text) as { version: number }).version;
  const stop = new AbortController();
  const answered: number[] = [];
  let twoAnswered!: () => void;
  const two = new Promise<void>((r) => (twoAnswered = r));
  const flood = Array.from({ length: MAX_POLLS_PER_AGENT + 2 }, () =>
    poll(`since=${since}&wait=25`, stop.signal).then(
      (r) => {
        answered.push(r.status);
        if (answered.length === 2) twoAnswered();
        return r.status;
      },
      () => 'aborted',
    ),
  );
  // The two beyond the cap push out two older ones, answered at once with nothing new.
  await two;
  await new Promise((r) => setImmediate(r));
  expect(answered).toEqual([204, 204]);
  stop.abort();
  expect((await Promise.all(flood)).filter((r) => r === 'aborted')).toHaveLength(MAX_POLLS_PER_AGENT);
});

it('refuses an applied version it never served (it would make a later revocation look verified without the host)', async () => {
  const before = await server.tb.store.db.selectFrom('agents').select(['applied_version', 'served_version', 'health']).where('id', '=', agentId).executeTakeFirstOrThrow();
  const beyond = Number(before.served_version) + 1;
  const hb = await agent.call('POST', '/api/v1/agents/heartbeat', { version: '0.1.0', health: { appliedVersion: beyond } }, { timeoutMs: 10_000 });
  expect(hb.status, hb.text).toBe(400);
  expect(JSON.parse(hb.text).error.message).toBe(`appliedVersion ${beyond} was never served to this agent (the last served is ${before.served_version})`);
  const poll = await agent.call('GET', `/api/v1/agents/desired-state?since=-1&applied=${beyond}`, undefined, { timeoutMs: 10_000 });
  expect(poll.status, poll.text).toBe(400);
  // Nothing of it was kept.
  expect(await server.tb.store.db.selectFrom('agents').select(['applied_version', 'served_version', 'health']).where('id', '=', agentId).executeTakeFirstOrThrow()).toEqual(before);
});

it('an agent revoked by an admin is refused at once, even mid long poll, and its desired state is no longer served', async () => {
  const held = poll('since=1000&wait=20');
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  const del = await server.admin.call('DELETE', `${T}/agents/${agentId}`);
  expect(del.status).toBe(200);
  expect(del.body).toMatchObject({ id: agentId, revoked: true });
  const cut = await held;
  expect(cut.status).toBe(401);
  expect(Date.now() - t0).toBeLessThan(3_000);
  const after = await poll('since=-1');
  expect(after.status).toBe(401);
  expect(after.text).toMatch(/revoked/);
  expect(after.text).not.toMatch(/grants/);
  expect((await agent.call('POST', '/api/v1/agents/heartbeat', { version: '0.1.0', health: { appliedVersion: 1 } }, { timeoutMs: 5_000 })).status).toBe(401);
  // A revoked agent cannot back a new host target.
  const re = await server.admin.post(`${T}/targets`, { name: 'revoked-host', kind: 'linux-agent', config: { agentId } });
  expect(re.status).toBe(400);
  expect(re.body.error.message).toMatch(/revoked/);
  const audit = await server.admin.get(`${T}/audit?limit=200`);
  const actions = audit.body.items.map((e: { action: string }) => e.action);
  for (const a of ['agent.enrolment_token_created', 'agent.enrolled', 'agent.revoked']) expect(actions).toContain(a);
});
