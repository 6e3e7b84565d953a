/**
 * Words for people: a subject and a plain-text body per event, the same for email and chat.
 * Only fields of the event are rendered, and events carry no credential, so no password can
 * appear here; free text typed by people (reasons) is made single-line where it must be.
 */
import type { GrantSummary, NotificationEvent } from './events.js';

export interface RenderContext {
  tenant: { id: string; slug: string; name: string };
  /** Operator id → email, for "by" and approver ids; unknown ids are shown as ids. */
  people: ReadonlyMap<string, string>;
}

export interface Message {
  subject: string;
  body: string;
}

/** Control characters (CR/LF included) never reach a header, a subject or a chat line. */
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [d && `${d} d`, h && `${h} h`, m && `${m} min`].filter(Boolean);
  if (parts.length === 0) return `${s} s`;
  return parts.join(' ');
}

/** "2026-03-01 09:30 UTC": readable and unambiguous in any inbox. */
export function formatTime(iso: string | null): string {
  if (!iso) return 'not started yet';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return oneLine(iso);
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function grantLines(g: GrantSummary): string[] {
  return [
    `Requester:    ${oneLine(g.requesterEmail)}`,
    `Target:       ${oneLine(g.targetName)}`,
    `Entitlements: ${g.entitlements.map(oneLine).join(', ') || '(none)'}`,
    `Duration:     ${formatDuration(g.durationSeconds)}`,
    `Expires:      ${formatTime(g.expiresAt)}`,
    `Reason:       ${oneLine(g.reason)}`,
    `Grant:        ${g.id}`,
  ];
}

const footer = ['', '—', 'Sent by Timebox. Act on requests in Timebox itself; replies to this message are not read.'];

function compose(ctx: RenderContext, subject: string, intro: string[], g: GrantSummary, extra: string[] = []): Message {
  return {
    subject: clip(oneLine(`[Timebox: ${ctx.tenant.name}] ${subject}`), 200),
    body: [...intro, '', ...grantLines(g), ...extra, ...footer].join('\n'),
  };
}

const who = (ctx: RenderContext, id: string) => oneLine(ctx.people.get(id) ?? `operator ${id}`);
const verb = (d: string) => ({ approve: 'approved', deny: 'denied' })[d] ?? d;

export function renderMessage(event: NotificationEvent, ctx: RenderContext): Message {
  const g = event.grant;
  const requester = oneLine(g.requesterEmail);
  const target = oneLine(g.targetName);
  switch (event.type) {
    case 'approval_requested': {
      const what = event.extensionSeconds
        ? `extend ${requester}'s access to ${target} by ${formatDuration(event.extensionSeconds)}`
        : `${requester} asks for access to ${target}`;
      const quorum = event.quorum === 1 ? 'One approval is needed' : `${event.quorum} approvals are needed`;
      return compose(ctx, `Approval needed: ${what}`, [
        `Your approval is requested (level ${event.level}): ${what}.`,
        `${quorum} at this level. Approve or deny in Timebox.`,
      ], g);
    }
    case 'request_decided': {
      const what = event.extensionSeconds ? `extension of your access to ${target}` : `request for ${target}`;
      const pending = event.final === false && event.decision !== 'denied';
      const outcome = pending ? `${event.decision} at level ${event.level}; further approval is still needed` : event.decision;
      const extra = event.reason ? ['', `Approver's note: ${oneLine(event.reason)}`] : [];
      return compose(ctx, `Your ${what} was ${outcome}`, [
        `Your ${what} was ${outcome} by ${who(ctx, event.by)} (level ${event.level}).`,
      ], g, extra);
    }
    case 'approver_acted':
      return compose(ctx, `${who(ctx, event.by)} ${verb(event.decision)} ${requester}'s request for ${target}`, [
        `${who(ctx, event.by)} ${verb(event.decision)} this request at level ${event.level}.`,
        'Nothing is needed from you unless you want to weigh in as well.',
      ], g);
    case 'grant_activated': {
      const until = g.expiresAt ? ` until ${formatTime(g.expiresAt)}` : '';
      return compose(ctx, `Access to ${target} is active${until}`, [
        `Access of ${requester} to ${target} is active now.${g.expiresAt ? ` It ends on its own at ${formatTime(g.expiresAt)}.` : ''}`,
      ], g);
    }
    case 'expiry_warning': {
      const left = `${Math.max(0, Math.round(event.minutesLeft))} minute${Math.round(event.minutesLeft) === 1 ? '' : 's'}`;
      return compose(ctx, `Access to ${target} ends in ${left}`, [
        `Access of ${requester} to ${target} ends in ${left}, at ${formatTime(g.expiresAt)}.`,
        'Ask for an extension in Timebox if the work is not done.',
      ], g);
    }
    case 'break_glass': {
      const by = oneLine(event.requester ?? g.requesterEmail);
      return compose(ctx, `BREAK-GLASS: ${by} took emergency access to ${target}`, [
        `${by} used break-glass access to ${target}, without approval.`,
        `Stated reason: ${oneLine(event.reason ?? g.reason)}`,
        'A review of this access is owed afterwards.',
      ], g);
    }
    case 'revoke_failed':
      return compose(ctx, `ACTION NEEDED: revoking ${requester}'s access to ${target} failed`, [
        `Timebox could not revoke this access and keeps retrying. Check the target now.`,
        `Last error: ${clip(oneLine(event.error), 500)}`,
      ], g);
    case 'drift_unrepaired':
      return compose(ctx, `ACTION NEEDED: JIT account ${oneLine(event.account)} on ${target} was changed and could not be repaired`, [
        `The JIT account ${oneLine(event.account)} on ${target} (of ${requester}) no longer matches what Timebox granted, and putting it right failed. Check the target now.`,
        `Found: ${clip(oneLine(event.findings.join('; ')), 500)}`,
        `Repair failed: ${clip(oneLine(event.error), 500)}`,
      ], g);
    case 'review_owed':
      return compose(ctx, `Review owed: emergency access of ${requester} to ${target}`, [
        `Break-glass access of ${requester} to ${target} needs a review: was it justified?`,
        'Record the review in Timebox.',
      ], g);
  }
}

/** What POST …/webhooks/:id/test sends. */
export function renderTestMessage(ctx: Pick<RenderContext, 'tenant'>): Message {
  return {
    subject: clip(oneLine(`[Timebox: ${ctx.tenant.name}] Test notification`), 200),
    body: ['This is a test message from Timebox.', 'If you can read it, this webhook works.', ...footer].join('\n'),
  };
}

/** Events that mean something is wrong: chat cards are coloured for them. */
export const urgentEvents: ReadonlySet<string> = new Set(['break_glass', 'revoke_failed', 'drift_unrepaired']);
