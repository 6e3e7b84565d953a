/**
 * Which URLs a tenant admin may give for webhooks. The shape is checked by the request schema
 * (`webhookUrlSyntaxProblem`); where the URL leads is judged by the server's outbound address
 * policy (src/net/outbound-policy.ts) when the webhook is saved and again at every delivery, when
 * its name is resolved and the connection pinned to the address that was checked.
 */
import { bare, isInternalHost, isLoopbackHost, type OutboundPolicy } from '../net/outbound-policy.js';

export { isLoopbackHost };

/** The URL's form, independent of where it leads: null when fine, else what is wrong. */
export function webhookUrlSyntaxProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL such as https://hooks.example.com/…';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return `must use https (the ${url.protocol.replace(/:$/, '')} scheme is not allowed)`;
  }
  if (url.username || url.password) {
    return 'must not contain credentials (user:password@); the webhook secret signs every request instead';
  }
  if (url.protocol === 'http:' && !isInternalHost(bare(url.hostname))) {
    return 'must use https; plain http is allowed only to an internal address the server operator allows';
  }
  return null;
}

/**
 * The form, then the address when it is written literally (in any form: the URL parser turns
 * `127.1` and `0x7f.1` into 127.0.0.1) or is localhost. Names are judged when resolved, at delivery.
 */
export function webhookUrlProblem(raw: string, policy: OutboundPolicy): string | null {
  const syntax = webhookUrlSyntaxProblem(raw);
  if (syntax) return syntax;
  const host = bare(new URL(raw).hostname);
  const problem = policy.literalProblem(host);
  return problem ? `must not point to ${problem} (${host}) unless the server operator allows it` : null;
}

/** The URL without what may be a secret (many chat webhooks carry their token in the path or query). */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    const first = url.pathname.split('/').filter(Boolean)[0];
    const more = url.pathname.split('/').filter(Boolean).length > 1 || url.search !== '';
    return `${url.origin}${first ? `/${first}` : ''}${more ? '/…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}
