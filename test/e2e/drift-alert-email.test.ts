/**
 * Drift Timebox cannot repair reaches people, not only the alerts page: a JIT role on a real
 * PostgreSQL target is re-enabled and taken over by hand (its Timebox marker replaced), the
 * reconciler refuses to touch a role that is no longer Timebox's, raises a critical alert and
 * emails the account's owner and the tenant's admins once (a real SMTP server), however often it
 * runs, until the alert is resolved.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { preparePgTarget, type PgTarget } from '../support/pg-target.js';
import { addOperator, startTestServer, type TestServer } from '../support/test-server.js';
import type { ApiClient } from '../support/http.js';
import { startSmtpSink } from '../notify/support.js';

// JIT role names are cluster-wide and test files share the cluster: one set of people per run.
const runId = randomBytes(3).toString('hex');
const T = '/api/v1/tenants/default';
let server: TestServer;
let target: PgTarget;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let alice: ApiClient;
let targetId: string;

beforeAll(async () => {
  // The reconciler's timer is off: the test runs it when it wants.
  server = await startTestServer({ env: { TIMEBOX_RECONCILE_MS: '0' } });
  smtp = await startSmtpSink({ username: 'relay', password: 'relay-password-1' });
  const settings = await server.admin.call('PUT', `${T}/settings/notifications`, {
    smtp: { host: '127.0.0.1', port: smtp.port, username: 'relay', password: 'relay-password-1', from: 'timebox@example.com', requireTls: false },
  });
  expect(settings.status, JSON.stringify(settings.body)).toBe(200);
  target = await preparePgTarget(inject('pgAdminUrl'));
  targetId = (await server.admin.post(`${T}/targets`, { name: 'orders-db', kind: 'postgres', config: target.config })).body.target.id;
  await server.admin.post(`${T}/policies`, { name: 'db', targetId, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 1800 });
  alice = await addOperator(server, `alice.${runId}@example.test`, ['requester']);
});

afterAll(async () => {
  await server?.close();
  await smtp?.close();
  await target?.drop();
});

async function asTargetAdmin(query: string): Promise<void> {
  const c = new pg.Client({ connectionString: target.db.url });
  await c.connect();
  try {
    await c.query(query);
  } finally {
    await c.end();
  }
}

it('emails the owner and the admins once when drift cannot be repaired', async () => {
  const granted = await alice.post(`${T}/requests`, { targetId, entitlements: [target.readers], durationSeconds: 1800, reason: 'INC-5 orders' });
  expect(granted.body.state).toBe('active');
  const username = granted.body.username as string;
  await alice.post(`${T}/grants/${granted.body.id}/revoke`, { reason: 'done' });

  // Behind Timebox's back: enabled again and no longer marked as Timebox's.
  await asTargetAdmin(`ALTER ROLE ${username} LOGIN VALID UNTIL 'infinity'; COMMENT ON ROLE ${username} IS 'taken over by hand'`);
  const run = await server.admin.post(`${T}/reconcile`);
  expect(run.body).toMatchObject({ drifted: 1, repaired: 0, failed: 1 });
  const alerts = (await server.admin.get(`${T}/alerts`)).body.items;
  expect(alerts).toEqual([expect.objectContaining({ severity: 'critical', message: expect.stringMatching(new RegExp(`^Drift on JIT account ${username}`)) })]);

  await server.tb.dispatcher.drain();
  const subject = `[Timebox: Default] ACTION NEEDED: JIT account ${username} on orders-db was changed and could not be repaired`;
  const mails = smtp.received.filter((m) => m.subject === subject);
  expect(mails.flatMap((m) => m.to).sort()).toEqual([`alice.${runId}@example.test`, server.tb.bootstrap!.email].sort());
  expect(mails[0]!.text).toMatch(new RegExp(`${username} can still log in`));
  expect(mails[0]!.text).toMatch(/Repair failed: .*not a Timebox JIT account/);

  // Still drifted on the next run: the alert stays open and nobody is emailed again.
  expect((await server.admin.post(`${T}/reconcile`)).body).toMatchObject({ failed: 1 });
  await server.tb.dispatcher.drain();
  expect(smtp.received.filter((m) => m.subject === subject)).toHaveLength(mails.length);
});
