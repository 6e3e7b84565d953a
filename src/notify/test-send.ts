/** POST …/webhooks/:id/test: one signed test message, sent now, its outcome shown at once. */
import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import { postWebhook } from './deliver-webhook.js';
import { renderTestMessage } from './render.js';
import { webhookPayload } from './webhook-payloads.js';
import { loadWebhook } from './webhooks.js';

export interface TestSendResult {
  delivered: boolean;
  /** The receiver's HTTP status; null when it could not be reached. */
  status: number | null;
  error: string | null;
}

/** Null when the tenant has no such webhook. Sent even when disabled: that is how one checks it first. */
export async function sendTestWebhook(
  deps: { db: Kysely<Database>; secrets: SecretBox; clock: Clock; outbound: OutboundPolicy },
  tenant: { id: string; slug: string; name: string },
  webhookId: string,
): Promise<TestSendResult | null> {
  const hook = await loadWebhook(deps.db, deps.secrets, tenant.id, webhookId);
  if (!hook) return null;
  const now = deps.clock.now();
  const message = renderTestMessage({ tenant });
  const rawBody = JSON.stringify(webhookPayload(hook.format, message, { type: 'test' }, { tenant }, now));
  const r = await postWebhook(hook, { id: randomUUID(), event: 'test', rawBody }, now, deps.outbound);
  return { delivered: r.ok, status: r.status, error: r.ok ? null : r.error };
}
