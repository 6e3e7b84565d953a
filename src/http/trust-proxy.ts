/**
 * Which X-Forwarded-* hops to believe (TIMEBOX_TRUST_PROXY). The client address feeds the
 * sign-in rate limit and the audit log, so it must come from a hop Timebox trusts: proxies
 * append the address they saw, so only the right-most entries written by our own proxies are
 * true; the left-most one is whatever the client wrote.
 *
 * - `false` (or `0`): no proxy; the socket's address is the client.
 * - a number N: N proxies in front (Timebox reachable only through them); the client is the
 *   address N hops from the socket, counted from the right of X-Forwarded-For.
 * - addresses or CIDRs, comma-separated: only those peers are proxies; the client is the first
 *   address, from the right, that is not one of them. Also `loopback`, `linklocal`, `uniquelocal`.
 * - `true` is refused: it would believe any address a client writes.
 */
import ipaddr from 'ipaddr.js';

export type TrustProxy = { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'addresses'; addresses: string[] };

const MAX_HOPS = 20;
const namedRanges = new Set(['loopback', 'linklocal', 'uniquelocal']);

const isAddressOrCidr = (s: string) => {
  if (namedRanges.has(s)) return true;
  if (s.includes('/')) {
    try {
      ipaddr.parseCIDR(s);
      return true;
    } catch {
      return false;
    }
  }
  return ipaddr.isValid(s);
};

/** The setting's meaning, or a sentence saying what to write instead. */
export function parseTrustProxy(value: string): { ok: true; value: TrustProxy } | { ok: false; message: string } {
  const v = value.trim();
  if (v === '' || v === 'false' || v === '0') return { ok: true, value: { kind: 'none' } };
  if (v === 'true') {
    return {
      ok: false,
      message:
        '"true" would believe any X-Forwarded-For a client writes; set the number of proxies in front of Timebox (e.g. 1) or their addresses (e.g. 10.0.0.5,10.1.0.0/16)',
    };
  }
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > MAX_HOPS) return { ok: false, message: `must be at most ${MAX_HOPS} proxies` };
    return { ok: true, value: { kind: 'hops', hops } };
  }
  const addresses = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = addresses.filter((a) => !isAddressOrCidr(a));
  if (bad.length > 0 || addresses.length === 0) {
    return { ok: false, message: `must be false, a number of proxies, or proxy addresses/CIDRs separated by commas; not an address: ${bad.map((b) => JSON.stringify(b)).join(', ')}` };
  }
  return { ok: true, value: { kind: 'addresses', addresses } };
}

/**
 * Fastify's `trustProxy` option. Hop counts are given as a function: Fastify turns a bare number
 * into "trust nothing" for protocol and host, and the hop rule is exactly "trust the first N".
 */
export function fastifyTrustProxy(tp: TrustProxy): false | string[] | ((address: string, hop: number) => boolean) {
  switch (tp.kind) {
    case 'none':
      return false;
    case 'hops':
      return tp.hops === 0 ? false : (_address: string, hop: number) => hop < tp.hops;
    case 'addresses':
      return tp.addresses;
  }
}
