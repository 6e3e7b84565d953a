import { describe, expect, it } from 'vitest';
import type { NotificationEvent } from './events.js';
import { notificationEventTypes } from './events.js';
import { formatDuration, renderMessage } from './render.js';
import { slackPayload, teamsPayload, webhookPayload } from './webhook-payloads.js';

const grant = {
  id: '6f1c1a2e-7d0b-4d5e-9a51-3b8f3c1d2e4f',
  requesterEmail: 'rita@acme.test',
  targetName: 'prod-db',
  entitlements: ['read', 'write'],
  durationSeconds: 5400,
  expiresAt: '2026-03-01T10:30:00.000Z',
  reason: 'INC-1234: fix the index',
};
const bob = '0b0b0b0b-0000-4000-8000-000000000001';
const ctx = { tenant: { id: 't1', slug: 'acme', name: 'Acme' }, people: new Map([[bob, 'bob@acme.test']]) };

const examples: NotificationEvent[] = [
  { type: 'approval_requested', grant, level: 1, quorum: 2, approverIds: [bob] },
  { type: 'request_decided', grant, decision: 'shortened', by: bob, level: 1, reason: 'one hour is enough', final: true },
  { type: 'approver_acted', grant, by: bob, decision: 'approve', level: 1 },
  { type: 'grant_activated', grant },
  { type: 'expiry_warning', grant, minutesLeft: 15 },
  { type: 'break_glass', grant },
  { type: 'revoke_failed', grant, error: 'connection refused' },
  { type: 'review_owed', grant },
  { type: 'drift_unrepaired', grant, account: 'alice_jit', error: 'insufficient access rights', findings: ['alice_jit can still log in (LOGIN)'] },
];

describe('rendered messages', () => {
  it('covers every event type', () => {
    expect(examples.map((e) => e.type).sort()).toEqual([...notificationEventTypes].sort());
  });

  it('says what happened, to whom, in the subject', () => {
    expect(examples.map((e) => renderMessage(e, ctx).subject)).toEqual([
      '[Timebox: Acme] Approval needed: rita@acme.test asks for access to prod-db',
      '[Timebox: Acme] Your request for prod-db was shortened',
      "[Timebox: Acme] bob@acme.test approved rita@acme.test's request for prod-db",
      '[Timebox: Acme] Access to prod-db is active until 2026-03-01 10:30 UTC',
      '[Timebox: Acme] Access to prod-db ends in 15 minutes',
      '[Timebox: Acme] BREAK-GLASS: rita@acme.test took emergency access to prod-db',
      "[Timebox: Acme] ACTION NEEDED: revoking rita@acme.test's access to prod-db failed",
      '[Timebox: Acme] Review owed: emergency access of rita@acme.test to prod-db',
      '[Timebox: Acme] ACTION NEEDED: JIT account alice_jit on prod-db was changed and could not be repaired',
    ]);
  });

  it('gives the grant details and the approver by email in the body', () => {
    const body = renderMessage(examples[1]!, ctx).body;
    expect(body).toContain('Your request for prod-db was shortened by bob@acme.test (level 1).');
    expect(body).toContain("Approver's note: one hour is enough");
    expect(body).toContain('Entitlements: read, write');
    expect(body).toContain('Duration:     1 h 30 min');
    expect(body).toContain('Reason:       INC-1234: fix the index');
    expect(renderMessage(examples[0]!, ctx).body).toContain('2 approvals are needed at this level.');
  });

  it('tells a requester when more approvals are still needed, and names extensions', () => {
    const partial = renderMessage({ type: 'request_decided', grant, decision: 'approved', by: bob, level: 1, final: false }, ctx);
    expect(partial.subject).toBe('[Timebox: Acme] Your request for prod-db was approved at level 1; further approval is still needed');
    const ext = renderMessage({ type: 'approval_requested', grant, level: 1, quorum: 1, approverIds: [], extensionSeconds: 1800 }, ctx);
    expect(ext.subject).toBe("[Timebox: Acme] Approval needed: extend rita@acme.test's access to prod-db by 30 min");
  });

  it('keeps typed text on one line in subjects (no header injection)', () => {
    const m = renderMessage({ type: 'break_glass', grant: { ...grant, requesterEmail: 'x@y\r\nBcc: all@corp' } }, ctx);
    expect(m.subject).not.toMatch(/[\r\n]/);
  });

  it('formats durations for people', () => {
    expect([30, 60, 5400, 86400 + 120].map(formatDuration)).toEqual(['30 s', '1 min', '1 h 30 min', '1 d 2 min']);
  });
});

describe('webhook payloads', () => {
  const message = renderMessage({ type: 'break_glass', grant: { ...grant, reason: 'db down <!channel> <https://evil|click>' } }, ctx);

  it('Slack: text plus a section block, with <> escaped so a reason cannot ping or link', () => {
    const p = slackPayload(message);
    expect(p.text).toBe('[Timebox: Acme] BREAK-GLASS: rita@acme.test took emergency access to prod-db');
    expect(JSON.stringify(p)).not.toContain('<!channel>');
    expect(JSON.stringify(p)).toContain('&lt;!channel&gt;');
    expect(p.blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: expect.stringMatching(/^\*\[Timebox: Acme\] BREAK-GLASS/) } }]);
  });

  it('Teams: a MessageCard, urgent events in red', () => {
    expect(teamsPayload(message, 'break_glass')).toMatchObject({
      '@type': 'MessageCard',
      '@context': 'https://schema.org/extensions',
      summary: message.subject,
      themeColor: 'D13438',
    });
  });

  it('generic: event, tenant, grant, time, and the rest of the event as data', () => {
    const at = new Date('2026-03-01T09:00:00.000Z');
    const event: NotificationEvent = { type: 'approver_acted', grant, by: bob, decision: 'deny', level: 2 };
    expect(webhookPayload('generic', renderMessage(event, ctx), event, ctx, at)).toEqual({
      event: 'approver_acted',
      tenant: { id: 't1', slug: 'acme' },
      grant,
      at: '2026-03-01T09:00:00.000Z',
      subject: "[Timebox: Acme] bob@acme.test denied rita@acme.test's request for prod-db",
      text: expect.stringContaining('bob@acme.test denied this request at level 2.'),
      data: { by: bob, decision: 'deny', level: 2 },
    });
  });
});
