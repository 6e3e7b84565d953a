/**
 * The JSON documents posted to webhooks, one shape per receiver: Slack incoming webhooks,
 * Microsoft Teams connectors (MessageCard) and a generic document for scripts. Rendered when
 * the message is queued and stored as is, so what is delivered (and signed) never drifts from
 * what was decided at the time.
 */
import type { WebhookFormat } from '../store/schema-notifications.js';
import type { GrantSummary, NotificationEvent } from './events.js';
import { urgentEvents, type Message, type RenderContext } from './render.js';

/** Slack reads <...> as links and mentions (<!channel>): text typed by people must not ping anyone. */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Teams renders a subset of HTML in cards, and Markdown in `text` (where a reason could forge a link). */
const htmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const teamsEscape = (s: string) => htmlEscape(s).replace(/([*_`[\]\\#])/g, '\\$1');
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

export interface SlackPayload {
  text: string;
  blocks?: unknown[];
}

export interface TeamsPayload {
  '@type': 'MessageCard';
  '@context': 'https://schema.org/extensions';
  summary: string;
  title: string;
  text: string;
  themeColor?: string;
}

export interface GenericPayload {
  event: string;
  tenant: { id: string; slug: string };
  grant: GrantSummary | null;
  at: string;
  subject: string;
  text: string;
  /** The rest of the event (level, decision, by...), ids as in the API. */
  data: Record<string, unknown>;
}

export function slackPayload(message: Message): SlackPayload {
  return {
    text: slackEscape(message.subject),
    blocks: [
      // Section text is limited to 3000 characters by Slack.
      { type: 'section', text: { type: 'mrkdwn', text: clip(`*${slackEscape(message.subject)}*\n${slackEscape(message.body)}`, 3000) } },
    ],
  };
}

export function teamsPayload(message: Message, eventType: string): TeamsPayload {
  return {
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    summary: message.subject,
    title: htmlEscape(message.subject),
    // One paragraph per line: MessageCard text collapses single newlines.
    text: message.body.split('\n').map(teamsEscape).join('\n\n'),
    themeColor: urgentEvents.has(eventType) ? 'D13438' : '2F6FED',
  };
}

export function genericPayload(
  message: Message,
  event: { type: string; grant?: GrantSummary } & Record<string, unknown>,
  ctx: Pick<RenderContext, 'tenant'>,
  at: Date,
): GenericPayload {
  const { type, grant, ...data } = event;
  return {
    event: type,
    tenant: { id: ctx.tenant.id, slug: ctx.tenant.slug },
    grant: grant ?? null,
    at: at.toISOString(),
    subject: message.subject,
    text: message.body,
    data,
  };
}

export function webhookPayload(
  format: WebhookFormat,
  message: Message,
  event: NotificationEvent | { type: 'test' },
  ctx: Pick<RenderContext, 'tenant'>,
  at: Date,
): SlackPayload | TeamsPayload | GenericPayload {
  switch (format) {
    case 'slack':
      return slackPayload(message);
    case 'teams':
      return teamsPayload(message, event.type);
    case 'generic':
      return genericPayload(message, event, ctx, at);
  }
}
