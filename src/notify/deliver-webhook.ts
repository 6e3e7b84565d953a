/**
 * Posts one signed webhook. The body is sent byte for byte as signed; redirects are not
 * followed (they could lead anywhere, including into the server's own network); errors name
 * the origin only, since chat webhook URLs carry their token in the path.
 */
import { errorText } from './db.js';
import type { DeliveryResult } from './deliver-email.js';
import { EVENT_HEADER, SIGNATURE_HEADER, signWebhook } from './verify-signature.js';
import { webhookUrlProblem } from './url-policy.js';

export const WEBHOOK_TIMEOUT_MS = 10_000;

export type WebhookResult = DeliveryResult & { status: number | null };

const originOf = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
};

/** Timeouts, rate limits and server errors pass; other refusals need a person. */
const transientStatus = (s: number) => s === 408 || s === 425 || s === 429 || s >= 500;

export async function postWebhook(
  hook: { url: string; secret: string },
  m: { id: string; event: string; rawBody: string },
  now: Date,
  timeoutMs = WEBHOOK_TIMEOUT_MS,
): Promise<WebhookResult> {
  // Checked again at send time: the rules may have tightened since the webhook was saved.
  const problem = webhookUrlProblem(hook.url);
  if (problem) return { ok: false, status: null, permanent: true, error: `webhook URL is not allowed: it ${problem}` };
  const origin = originOf(hook.url);
  let res: Response;
  try {
    res = await fetch(hook.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Timebox-Webhook/1',
        [EVENT_HEADER]: m.event,
        [SIGNATURE_HEADER]: signWebhook(hook.secret, m.rawBody, now),
        // Same id on every retry: receivers can drop a duplicate after a lost answer.
        'X-Timebox-Delivery': m.id,
      },
      body: m.rawBody,
    });
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (e.cause?.code ?? errorText(err));
    return { ok: false, status: null, permanent: false, error: `could not deliver to ${origin}: ${why}` };
  }
  // The answer's body is not needed; release the connection.
  await res.body?.cancel().catch(() => undefined);
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
  if (res.status >= 300 && res.status < 400) {
    return { ok: false, status: res.status, permanent: true, error: `${origin} answered HTTP ${res.status} (a redirect); redirects are not followed, use the final URL` };
  }
  return { ok: false, status: res.status, permanent: !transientStatus(res.status), error: `${origin} answered HTTP ${res.status}` };
}
