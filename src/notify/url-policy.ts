/**
 * Where Timebox may send requests on a tenant admin's say-so. Webhooks go out from the server's
 * network, so an address inside it (a private range, link-local cloud metadata) would let a
 * tenant admin probe what only the server can reach. Checked when a webhook is saved and again
 * before each delivery. Host names are not resolved here: a name that resolves to a private
 * address is not caught (see the module's report); literal addresses and localhost are.
 */
import { BlockList, isIP } from 'node:net';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

/** Private, shared, link-local, loopback, multicast and unspecified ranges. */
const refused = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) refused.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) refused.addSubnet(net, bits, 'ipv6');

/** `[::1]` → `::1` (URL keeps the brackets of IPv6 literals); `localhost.` → `localhost`. */
const bare = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();

/** localhost, 127.0.0.1 or ::1: this very host, where a test listener or local relay runs. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_NAMES.has(bare(hostname));
}

/** Literal addresses only; BlockList also sees IPv4-mapped IPv6 (::ffff:10.0.0.1) as the IPv4 address. */
function isRefusedAddress(host: string): boolean {
  const version = isIP(host);
  if (version === 4) return refused.check(host, 'ipv4');
  if (version === 6) return refused.check(host, 'ipv6');
  return false;
}

/** Null when the URL may be used for a webhook; otherwise what is wrong, for the person typing it. */
export function webhookUrlProblem(raw: string): string | null {
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
  const host = bare(url.hostname);
  if (isLoopbackHost(host)) return null;
  if (url.protocol === 'http:') return 'must use https; plain http is allowed only for localhost and 127.0.0.1';
  if (host.endsWith('.localhost') || isRefusedAddress(host)) {
    return `must not point into a private, loopback or link-local network (${host})`;
  }
  return null;
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
