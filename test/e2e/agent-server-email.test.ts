/**
 * `credentialDelivery: server-email` on a real (throwaway) host: Timebox chooses the password, the
 * agent sets it, and the server emails user name, password, host and end time through the
 * tenant's SMTP relay (a real SMTP server here) once the agent reported the account created. The
 * password works over SSH, is never shown in Timebox, and appears in no server log, agent log,
 * audit event or database row in clear. A grant that ends before the account exists sends nothing
 * and erases the stored password; a tenant without SMTP settings is refused with the reason.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { createHostNamespace, type HostNamespace, type NsSshd } from '../harness/host-namespace.js';
import { hostUsers, readJournal, sshRun, waitForJournal, waitUntil, type AgentProcess } from '../agent/support.js';
import { startSmtpSink } from '../notify/support.js';
import type { ApiClient } from '../support/http.js';
import { addMember, enrolledAgent, startRestartableServer, type RestartableServer } from './agent-support.js';

const T = '/api/v1/tenants/default';
const SMTP_LOGIN = { username: 'timebox-relay', password: 'relay-secret-0815' };
let serverLog = '';
let server: RestartableServer;
let ns: HostNamespace;
let sshd: NsSshd;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let stateDir: string;
let agent: AgentProcess | undefined;
let run: () => Promise<AgentProcess>;
let targetId: string;

beforeAll(async () => {
  // Everything the server logs, at the most verbose level, to search it for the password.
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      serverLog += chunk.toString('utf8');
      done();
    },
  });
  server = await startRestartableServer({}, { logger: pino({ level: 'trace' }, sink) });
  ns = await createHostNamespace();
  sshd = await ns.startSshd();
  smtp = await startSmtpSink(SMTP_LOGIN);
  stateDir = await mkdtemp(path.join(tmpdir(), 'tb-agent-mail-'));
  const enrolled = await enrolledAgent(server, ns, stateDir);
  run = enrolled.run;
  const added = await server.admin.post(`${T}/agents/${enrolled.agentId}/target`, { name: 'web-01', credentialDelivery: 'server-email' });
  expect(added.status, JSON.stringify(added.body)).toBe(201);
  targetId = added.body.target.id as string;
  const policy = await server.admin.post(`${T}/policies`, { name: 'web-01', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600 });
  expect(policy.status, JSON.stringify(policy.body)).toBe(201);
});

afterAll(async () => {
  await agent?.kill9();
  await ns?.destroy();
  await server?.destroy();
  await smtp?.close();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  const users = await hostUsers();
  for (const u of ['tbann', 'tbbob', 'tbcid']) expect(users.has(u), `${u} leaked to the real host`).toBe(false);
});

const ask = (client: ApiClient, accountName: string, durationSeconds: number) =>
  client.post(`${T}/requests`, { targetId, entitlements: ['users'], durationSeconds, reason: 'INC-9 rotate the logs', accountName });
const grantOf = async (client: ApiClient, id: string) => (await client.get(`${T}/grants/${id}`)).body;
const credentialRows = () =>
  sql<{ status: string; payload: unknown; last_error: string | null; body: string }>`SELECT status, payload, last_error, body FROM notifications WHERE event = 'host_credentials'`.execute(server.tb.store.db);

it('is refused with the reason while the tenant has no SMTP settings', async () => {
  const cid = await addMember(server, 'cid@example.test', ['requester']);
  const r = await ask(cid, 'tbcid', 60);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body.state).not.toBe('active');
  expect(r.body.lastError).toMatch(/server-email delivery needs this tenant's SMTP settings/);
  expect((await credentialRows()).rows).toEqual([]);
});

it('a grant that ends before the agent created the account sends nothing and erases the password', async () => {
  const put = await server.admin.call('PUT', `${T}/settings/notifications`, {
    smtp: { host: '127.0.0.1', port: smtp.port, requireTls: false, ...SMTP_LOGIN, from: 'timebox@example.test' },
  });
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  // The agent is not running yet: the account cannot exist.
  const bob = await addMember(server, 'bob@example.test', ['requester']);
  const r = await ask(bob, 'tbbob', 60);
  expect(r.body).toMatchObject({ state: 'active', credentialAvailable: false });
  const [queued] = (await credentialRows()).rows;
  expect(queued).toMatchObject({ status: 'pending', payload: { grantId: r.body.id, passwordEnc: expect.any(String) } });
  expect((await bob.post(`${T}/grants/${r.body.id}/revoke`, { reason: 'not needed after all' })).status).toBe(200);
  await waitUntil('bob revoked', 10_000, async () => (await grantOf(bob, r.body.id)).state === 'revoked');
  const [dropped] = (await credentialRows()).rows;
  expect(dropped).toMatchObject({ status: 'failed', payload: { grantId: r.body.id } });
  expect(dropped!.payload).not.toHaveProperty('passwordEnc');
  expect(dropped!.last_error).toMatch(/ended before the account was ready/);
});

it('emails user name, password, host and end time once the account exists; the password works and is nowhere else', async () => {
  onTestFailed(async () => console.error(agent?.output(), JSON.stringify(await readJournal(stateDir), null, 1)));
  agent = await run();
  const ann = await addMember(server, 'ann@example.test', ['requester']);
  const r = await ask(ann, 'tbann', 60);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  expect(r.body).toMatchObject({ state: 'active', username: 'tbann', credentialAvailable: false });
  const grantId = r.body.id as string;
  // Shown once to one person, the email's reader: Timebox itself has nothing to reveal.
  expect((await ann.post(`${T}/grants/${grantId}/credential`)).status).toBe(409);

  const mail = await waitUntil('the credential email', 20_000, async () => smtp.received.find((m) => m.subject === 'Your temporary account on web-01.example.test'));
  const arrived = Date.now();
  expect(mail.to).toEqual(['ann@example.test']);
  const username = /^Username: (\S+)$/m.exec(mail.text)?.[1];
  const password = /^Password: (\S+)$/m.exec(mail.text)?.[1];
  expect(username).toBe('tbann');
  expect(password).toMatch(/^\S{24}$/);
  expect(mail.text).toContain('on web-01.example.test');
  const end = `${new Date(r.body.expiresAt as string).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '')} UTC`;
  expect(mail.text).toContain(`until ${end}`);
  // Sent after the agent had the account ready (with this password).
  const provisioned = await waitForJournal(stateDir, 'tbann provisioned', 5_000, (e) => e.grantId === grantId && e.event === 'provisioned');
  expect(Date.parse(provisioned.at)).toBeLessThanOrEqual(arrived);

  const ssh = await sshRun(sshd.port, 'tbann', password!, ['id', '-un']);
  expect(ssh.code, ssh.stderr).toBe(0);
  expect(ssh.stdout.trim()).toBe('tbann');

  const sent = (await credentialRows()).rows.find((row) => (row.payload as { grantId?: string }).grantId === grantId);
  expect(sent).toMatchObject({ status: 'sent', payload: { grantId } });
  expect(sent!.payload).not.toHaveProperty('passwordEnc');

  // In clear nowhere: server log, agent log and files, audit events, and the rows it passed through.
  const db = server.tb.store.db;
  const tables = ['notifications', 'agent_grants', 'agent_journal', 'audit_events', 'grants', 'access_requests', 'jit_accounts'];
  const rows = await Promise.all(tables.map(async (t) => JSON.stringify((await sql.raw(`SELECT * FROM ${t}`).execute(db)).rows)));
  const agentFiles = await Promise.all(['journal.jsonl', 'schedule.json'].map((f) => readFile(path.join(stateDir, f), 'utf8')));
  expect(serverLog).toMatch(/credential email sent/);
  for (const [where, text] of [['server log', serverLog], ['agent log', agent.output()], ['agent files', agentFiles.join('\n')], ...tables.map((t, i) => [t, rows[i]!])] as const) {
    expect(text, where).not.toContain(password!);
  }
});
