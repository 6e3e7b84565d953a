/**
 * Offboarding an approver also moves the extension requests waiting on them: one whose level
 * has another approver is re-routed (that approver decides, the grant is extended), one only
 * the leaver could decide is flagged with an alert; both audited.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, type Member } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { fakeTargetState } from '../../src/connectors/fake/fake-connector.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');
let server: TestServer;
let olga: Member; // the approver who leaves
let amy: Member; // approver
let rex: Member; // requester
const targets: Record<string, string> = {};

async function addTarget(name: string, approverIds: string[]) {
  const t = await server.admin.post(`${T}/targets`, { name, kind: 'fake', config: { instance: `${name}-${hex}`, entitlements: ['readers'] } });
  expect(t.status, JSON.stringify(t.body)).toBe(201);
  const p = await server.admin.post(`${T}/policies`, {
    name,
    targetId: t.body.target.id,
    requesterRoles: ['requester'],
    maxDurationSeconds: 4 * 3600,
    defaultDurationSeconds: 3600,
    rules: {
      approvalLevels: [{ name: 'ops', approverIds, quorum: 1 }],
      extension: { allowed: true, maxTotalSeconds: 4 * 3600, selfApprove: false },
    },
  });
  expect(p.status, JSON.stringify(p.body)).toBe(201);
  targets[name] = t.body.target.id;
}

/** An active grant of Rex's on `target` (approved by `by`) with an extension request waiting. */
async function extensionWaiting(target: string, by: Member) {
  const r = await rex.api.post(`${T}/requests`, { targetId: targets[target], entitlements: ['readers'], durationSeconds: 3600, reason: `INC-${hex} extension drill` });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const approved = await by.api.post(`${T}/grants/${r.body.id}/approve`, { reason: 'fine' });
  expect(approved.status, JSON.stringify(approved.body)).toBe(200);
  await server.tb.scheduler.drain();
  const grant = (await rex.api.get(`${T}/grants/${r.body.id}`)).body;
  expect(grant.state).toBe('active');
  const ext = await rex.api.post(`${T}/grants/${grant.id}/extend`, { seconds: 1800, reason: 'still migrating' });
  expect(ext.status, JSON.stringify(ext.body)).toBe(200);
  expect(ext.body.applied).toBe(false);
  return { grant, extensionId: ext.body.extensionId as string };
}

beforeAll(async () => {
  server = await startTestServer({ env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true' } });
  olga = await addMember(server.url, server.admin, 'default', `olga.${hex}@example.com`, ['approver']);
  amy = await addMember(server.url, server.admin, 'default', `amy.${hex}@example.com`, ['approver']);
  rex = await addMember(server.url, server.admin, 'default', `rex.${hex}@example.com`, ['requester']);
  await addTarget('shared-approval', [olga.id, amy.id]);
  await addTarget('olga-approval', [olga.id]);
});
afterAll(async () => {
  await server?.close();
});

describe('disabling an approver', () => {
  it('re-routes an extension request to the remaining approver and flags one nobody else can decide', async () => {
    const shared = await extensionWaiting('shared-approval', amy);
    const onlyHer = await extensionWaiting('olga-approval', olga);

    const disabled = await server.admin.post(`${T}/members/${olga.id}/disable`, { reason: 'left the company' });
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    expect(disabled.body).toMatchObject({ requestsCancelled: 0, grantsRevoked: 0, approvalsRerouted: 1, approvalsFlagged: 1 });

    const events = await server.tb.store.db.selectFrom('audit_events').select(['action', 'subject_id', 'after']).where('action', 'in', ['approval.rerouted', 'alert.raised']).execute();
    expect(events).toContainEqual({ action: 'approval.rerouted', subject_id: shared.grant.id, after: expect.objectContaining({ extensionId: shared.extensionId, approverIds: [amy.id], disabledApproverId: olga.id }) });
    expect(events).toContainEqual({ action: 'alert.raised', subject_id: onlyHer.grant.id, after: expect.objectContaining({ extensionId: onlyHer.extensionId, disabledApproverId: olga.id }) });
    const alerts = await server.tb.store.db.selectFrom('alerts').select(['grant_id', 'message']).where('grant_id', '=', onlyHer.grant.id).execute();
    expect(alerts).toEqual([{ grant_id: onlyHer.grant.id, message: expect.stringContaining(`Extension request ${onlyHer.extensionId}`) }]);
    expect(alerts[0]!.message).toContain('can no longer reach the quorum');

    // Amy still decides the re-routed one, and the grant is extended.
    const done = await amy.api.post(`${T}/extensions/${shared.extensionId}/approve`, {});
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.state).toBe('approved');
    expect(new Date(done.body.grant.expiresAt).getTime()).toBe(new Date(shared.grant.expiresAt).getTime() + 1800_000);
    // The flagged one stays pending for an admin to act on: nothing extended it.
    expect((await rex.api.get(`${T}/grants/${onlyHer.grant.id}`)).body.expiresAt).toBe(onlyHer.grant.expiresAt);
  });
});

describe('an extension waiting when its grant ends', () => {
  it('leaves the inbox and cannot be approved: nothing is recorded as approved that extended nothing', async () => {
    const { grant, extensionId } = await extensionWaiting('shared-approval', amy);
    const ended = await rex.api.post(`${T}/grants/${grant.id}/revoke`, { reason: 'done early' });
    expect(ended.body.state, JSON.stringify(ended.body)).toBe('revoked');
    const inbox = await amy.api.get(`${T}/approvals`);
    expect(inbox.body.items.map((i: { extensionId: string | null }) => i.extensionId)).not.toContain(extensionId);
    const late = await amy.api.post(`${T}/extensions/${extensionId}/approve`, {});
    expect(late.status, JSON.stringify(late.body)).toBe(409);
    expect(late.body.error.message).toBe('the grant is revoked; its extension can no longer be decided');
    const row = await server.tb.store.db.selectFrom('grant_extensions').select('state').where('id', '=', extensionId).executeTakeFirstOrThrow();
    expect(row.state).toBe('pending');
    const approvals = await server.tb.store.db.selectFrom('approvals').select('id').where('subject_id', '=', extensionId).execute();
    expect(approvals).toEqual([]);
  });
});

describe('an approved extension the target cannot apply', () => {
  it('is cancelled with the reason audited, not left approved for time that was not given', async () => {
    const { grant, extensionId } = await extensionWaiting('shared-approval', amy);
    // The account vanished from the target behind Timebox's back: moving its expiry fails.
    fakeTargetState(`shared-approval-${hex}`).accounts.clear();
    const approved = await amy.api.post(`${T}/extensions/${extensionId}/approve`, {});
    expect(approved.status, JSON.stringify(approved.body)).toBe(502);
    expect(approved.body.error.message).toMatch(/could not move the expiry/);
    const row = await server.tb.store.db.selectFrom('grant_extensions').select('state').where('id', '=', extensionId).executeTakeFirstOrThrow();
    expect(row.state).toBe('cancelled');
    const events = await server.tb.store.db
      .selectFrom('audit_events')
      .select(['action', 'reason'])
      .where('subject_id', '=', grant.id)
      .where('action', 'like', 'extension.%')
      .orderBy('seq')
      .execute();
    expect(events.map((e) => e.action)).toEqual(['extension.requested', 'extension.approved', 'extension.cancelled']);
    expect(events.at(-1)!.reason).toMatch(/could not move the expiry/);
    expect((await rex.api.get(`${T}/grants/${grant.id}`)).body.expiresAt).toBe(grant.expiresAt);
  });
});
