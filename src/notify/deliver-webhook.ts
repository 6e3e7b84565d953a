/**
 * Posts one signed webhook. The body is sent byte for byte as signed; redirects are not
 * followed (they could lead anywhere, including into the server's own network); the host name is
 * resolved through the outbound policy and the connection made to the address it checked;
 * errors name the origin and a failure class only, never what the other side sent, since
 * chat webhook URLs carry their token in the path and an internal service's answer is not the
 * tenant's to read.
 */
import http from 'node:http';
import https from 'node:https';
import { failureClass } from '../net/failure-class.js';
import { errorText } from './db.js';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import type { DeliveryResult } from './deliver-email.js';
import { EVENT_HEADER, SIGNATURE_HEADER, signWebhook } from './verify-signature.js';
import { webhookUrlProblem } from './url-policy.js';

export const WEBHOOK_TIMEOUT_MS = 10_000;

export type WebhookResult = DeliveryResult & { status: number | null };

/** Timeouts, rate limits and server errors pass; other refusals need a person. */
const transientStatus = (s: number) => s === 408 || s === 425 || s === 429 || s >= 500;

/** One POST; resolves with the status (the body is not read), rejects with the network error. */
function post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number, policy: OutboundPolicy): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === 'https:' ? https.request : http.request;
    const req = request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: policy.lookup, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      },
    );
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })), timeoutMs);
    req.on('error', reject);
    req.on('close', () => clearTimeout(timer));
    req.end(body);
  });
}

export async function postWebhook(
  hook: { url: string; secret: string },
  m: { id: string; event: string; rawBody: string },
  now: Date,
  policy: OutboundPolicy,
  timeoutMs = WEBHOOK_TIMEOUT_MS,
): Promise<WebhookResult> {
  // Checked again at send time: the rules may have tightened since the webhook was saved.
  const problem = webhookUrlProblem(hook.url, policy);
  if (problem) return { ok: false, status: null, permanent: true, error: `webhook URL is not allowed: it ${problem}` };
  const url = new URL(hook.url);
  let status: number;
  try {
    status = await post(
      url,
      {
        'content-type': 'application/json',
        'user-agent': 'Timebox-Webhook/1',
        [EVENT_HEADER]: m.event,
        [SIGNATURE_HEADER]: signWebhook(hook.secret, m.rawBody, now),
        // Same id on every retry: receivers can drop a duplicate after a lost answer.
        'X-Timebox-Delivery': m.id,
      },
      m.rawBody,
      timeoutMs,
      policy,
    );
  } catch (err) {
    const cls = failureClass(err);
    const why = cls === 'timed out' ? `no answer within ${timeoutMs / 1000} s` : cls;
    // A name that resolves inside the network will not move out of it by retrying.
    return {
      ok: false,
      status: null,
      permanent: cls === 'address not allowed',
      error: `could not deliver to ${url.origin}: ${why}`,
      detail: errorText(err),
    };
  }
  if (status >= 200 && status < 300) return { ok: true, status };
  if (status >= 300 && status < 400) {
    return { ok: false, status, permanent: true, error: `${url.origin} answered HTTP ${status} (a redirect); redirects are not followed, use the final URL` };
  }
  return { ok: false, status, permanent: !transientStatus(status), error: `${url.origin} answered HTTP ${status}` };
}
