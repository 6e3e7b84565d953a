/**
 * A stored secret never follows a changed address. Fake endpoints record what they receive:
 * moving a PostgreSQL target (host, port), an AD target (url, caPem, tlsServerName) or the SMTP
 * relay (host, port) without typing the secret again is refused before anything is sent, and the
 * refusal is audited; with the secret typed again the change goes through. A PostgreSQL server
 * that asks for the password in clear text or as MD5 never gets it, unless the target allows that.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { preparePgTarget, type PgTarget } from '../support/pg-target.js';
import { startFakePostgres, startRecordingListener, startRecordingRelay } from '../support/fake-endpoints.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
const runId = randomBytes(3).toString('hex');
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true' } });
});
afterAll(async () => {
  await server?.close();
});

const refusals = async (subjectId: string) =>
  server.tb.store.db.selectFrom('audit_events').selectAll().where('subject_id', '=', subjectId).where('action', 'like', '%refused').orderBy('seq').execute();
// Several settings here point at recording fakes whose connection test fails: saved anyway.
const putTarget = (id: string, config: Record<string, unknown>) => server.admin.call('PUT', `${T}/targets/${id}`, { config, saveUnchecked: true });

describe('PostgreSQL target', () => {
  let target: PgTarget;
  let targetId: string;
  let cleartext: Awaited<ReturnType<typeof startFakePostgres>>;
  let md5: Awaited<ReturnType<typeof startFakePostgres>>;

  beforeAll(async () => {
    target = await preparePgTarget(inject('pgAdminUrl'));
    cleartext = await startFakePostgres('cleartext');
    md5 = await startFakePostgres('md5');
    const created = await server.admin.post(`${T}/targets`, { name: `orders-db-${runId}`, kind: 'postgres', config: target.config });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.check.ok).toBe(true);
    targetId = created.body.target.id;
  });
  afterAll(async () => {
    await cleartext?.close();
    await md5?.close();
    await target?.drop();
  });

  it('refuses a new port or host without the password: nothing reaches the new endpoint, the attempt is audited', async () => {
    const moved = await putTarget(targetId, { port: cleartext.port });
    expect(moved.status).toBe(400);
    expect(moved.body.error.message).toBe('config.password must be given again: changing config.port decides where the stored secret would be sent');
    const renamed = await putTarget(targetId, { host: 'localhost' });
    expect(renamed.status).toBe(400);
    expect(renamed.body.error.message).toMatch(/changing config.host/);
    expect(cleartext.connections).toBe(0);

    const audit = await refusals(targetId);
    expect(audit.map((a) => [a.action, a.reason, (a.after as { bindingKeysChanged: string[] }).bindingKeysChanged])).toEqual([
      ['target.update_refused', 'secret required for a changed address', ['port']],
      ['target.update_refused', 'secret required for a changed address', ['host']],
    ]);
    expect(JSON.stringify(audit)).not.toContain(target.config.password);
    // Nothing changed: the target still reaches the real server.
    expect((await server.admin.post(`${T}/targets/${targetId}/check`)).body.ok).toBe(true);
  });

  it('with the password typed again the change is made, but a server asking for clear text or MD5 never gets it', async () => {
    const toCleartext = await putTarget(targetId, { port: cleartext.port, password: target.config.password });
    expect(toCleartext.status, JSON.stringify(toCleartext.body)).toBe(200);
    expect(toCleartext.body.check.ok).toBe(false);
    expect(JSON.stringify(toCleartext.body.check.items)).toMatch(/asked for the password in clear text; Timebox sends it only over SCRAM/);
    expect(cleartext.connections).toBeGreaterThan(0);
    expect(cleartext.passwords()).toEqual([]);

    const toMd5 = await putTarget(targetId, { port: md5.port, password: target.config.password });
    expect(toMd5.status).toBe(200);
    expect(JSON.stringify(toMd5.body.check.items)).toMatch(/asked for the password in MD5 form/);
    expect(md5.connections).toBeGreaterThan(0);
    expect(md5.passwords()).toEqual([]);
  });

  it('sends the password in clear text only when the target explicitly allows it', async () => {
    const allowed = await putTarget(targetId, { port: cleartext.port, password: target.config.password, allowInsecurePasswordAuth: true });
    expect(allowed.status).toBe(200);
    expect(cleartext.passwords()).toEqual([target.config.password]);
    // Back to the real server: the flag is a secret-binding field as well.
    expect((await putTarget(targetId, { port: target.config.port, allowInsecurePasswordAuth: false })).status).toBe(400);
    const back = await putTarget(targetId, { port: target.config.port, password: target.config.password, allowInsecurePasswordAuth: false });
    expect(back.status).toBe(200);
    expect(back.body.check.ok).toBe(true);
  });
});

describe('Active Directory target', () => {
  const PEM_A = '-----BEGIN CERTIFICATE-----\nMIIBfakeA\n-----END CERTIFICATE-----\n';
  const PEM_B = '-----BEGIN CERTIFICATE-----\nMIIBfakeB\n-----END CERTIFICATE-----\n';
  const BIND_PASSWORD = `Bind-${randomBytes(8).toString('hex')}`;
  let first: Awaited<ReturnType<typeof startRecordingListener>>;
  let second: Awaited<ReturnType<typeof startRecordingListener>>;
  let targetId: string;

  beforeAll(async () => {
    first = await startRecordingListener();
    second = await startRecordingListener();
    const created = await server.admin.post(`${T}/targets`, {
      name: `dc-${runId}`,
      kind: 'active-directory-groups',
      config: {
        url: `ldaps://127.0.0.1:${first.port}`,
        bindDn: 'svc-timebox@example.test',
        bindPassword: BIND_PASSWORD,
        caPem: PEM_A,
        baseDn: 'DC=example,DC=test',
        connectTimeoutMs: 2000,
      },
      saveUnchecked: true,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    targetId = created.body.target.id;
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it.each([
    ['url', () => ({ url: `ldaps://127.0.0.1:${second.port}` })],
    ['caPem', () => ({ caPem: PEM_B })],
    ['tlsServerName', () => ({ tlsServerName: 'dc.elsewhere.test' })],
  ])('refuses a new %s without bindPassword, before connecting anywhere', async (field, change) => {
    const before = first.connections;
    const res = await putTarget(targetId, change());
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(`config.bindPassword must be given again: changing config.${field} decides where the stored secret would be sent`);
    expect(second.connections).toBe(0);
    expect(first.connections).toBe(before);
    const audit = await refusals(targetId);
    expect((audit.at(-1)!.after as { bindingKeysChanged: string[] }).bindingKeysChanged).toEqual([field]);
  });

  it('with bindPassword typed again the new address is used', async () => {
    const res = await putTarget(targetId, { url: `ldaps://127.0.0.1:${second.port}`, bindPassword: BIND_PASSWORD });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(second.connections).toBeGreaterThan(0);
    // TLS to a fake DC fails before any bind: the password never crossed in clear.
    expect(res.body.check.ok).toBe(false);
    expect(second.received().includes(Buffer.from(BIND_PASSWORD))).toBe(false);
    expect(await refusals(targetId)).toHaveLength(3);
  });
});

describe('SMTP relay', () => {
  const PASSWORD = `relay-${randomBytes(8).toString('hex')}`;
  let relay: Awaited<ReturnType<typeof startRecordingRelay>>;
  let elsewhere: Awaited<ReturnType<typeof startRecordingRelay>>;
  let targetId: string;
  let alice: Awaited<ReturnType<typeof addOperator>>;
  const carolEmail = `carol.${runId}@example.test`;
  const smtp = (port: number, extra: Record<string, unknown> = {}) => ({
    smtp: { host: '127.0.0.1', port, username: 'relay', from: 'timebox@example.test', requireTls: false, ...extra },
  });
  const tenantId = async () => (await server.tb.store.db.selectFrom('tenants').select('id').where('slug', '=', 'default').executeTakeFirstOrThrow()).id;
  const askForApproval = async () => {
    const res = await alice.post(`${T}/requests`, { targetId, entitlements: ['readers'], durationSeconds: 600, reason: 'looking at orders' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect((await alice.post(`${T}/grants/${res.body.id}/revoke`, { reason: 'withdrawn' })).status).toBeLessThan(300);
    await server.tb.dispatcher.drain();
  };

  beforeAll(async () => {
    relay = await startRecordingRelay();
    elsewhere = await startRecordingRelay();
    const target = await server.admin.post(`${T}/targets`, {
      name: `fake-${runId}`,
      kind: 'fake',
      config: { instance: `smtp-${runId}`, entitlements: ['readers'] },
    });
    targetId = target.body.target.id;
    alice = await addOperator(server, `alice.${runId}@example.test`, ['requester']);
    const carol = await addOperator(server, carolEmail, ['approver']);
    const carolId = (await carol.get('/api/v1/me')).body.operator.id;
    const policy = await server.admin.post(`${T}/policies`, {
      name: `needs carol ${runId}`,
      targetId,
      requesterRoles: ['requester'],
      maxDurationSeconds: 3600,
      defaultDurationSeconds: 600,
      rules: { approvalLevels: [{ approverIds: [carolId] }] },
    });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    const saved = await server.admin.call('PUT', `${T}/settings/notifications`, smtp(relay.port, { password: PASSWORD }));
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
  });
  afterAll(async () => {
    await relay?.close();
    await elsewhere?.close();
  });

  it('refuses another relay without the password: it gets no login and no mail, and the attempt is audited', async () => {
    const moved = await server.admin.call('PUT', `${T}/settings/notifications`, smtp(elsewhere.port));
    expect(moved.status).toBe(400);
    expect(moved.body.error.message).toBe('smtp.password must be given again: changing smtp.port decides where the stored password (and every message) would be sent');
    const audit = await refusals(await tenantId());
    expect(audit.map((a) => [a.action, a.reason])).toEqual([['notifications.settings_refused', 'secret required for a changed address']]);

    await askForApproval();
    expect(elsewhere.connections).toBe(0);
    expect(elsewhere.logins).toEqual([]);
    expect(elsewhere.mails).toEqual([]);
    // Mail still goes where it went, with the login it had.
    expect(relay.mails.some((m) => m.to.includes(carolEmail))).toBe(true);
    expect(relay.logins.map((l) => l.password)).toContain(PASSWORD);
  });

  it('with the password typed again the new relay is used', async () => {
    const moved = await server.admin.call('PUT', `${T}/settings/notifications`, smtp(elsewhere.port, { password: PASSWORD }));
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    await askForApproval();
    expect(elsewhere.mails.some((m) => m.to.includes(carolEmail))).toBe(true);
  });
});
