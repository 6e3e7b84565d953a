/**
 * Where this server may connect on a tenant's say-so: webhooks, SMTP relays, targets. The server
 * sits inside a network a tenant admin cannot see; without a rule, any URL or host field would let
 * them probe it (cloud metadata at 169.254.169.254, an internal database, this host's own ports).
 *
 * Every address is classified with ipaddr.js, which also reads the odd IPv4 forms resolvers accept
 * (`127.1`, `0x7f.1`, `2130706433`, IPv4-mapped IPv6). Only global unicast addresses are allowed,
 * plus whatever the server operator allows by TIMEBOX_OUTBOUND_ALLOW (class names or CIDRs).
 * Names are resolved here, every address they resolve to is checked, and the connection is made
 * to the address that was checked (pinned), so a name cannot change its answer in between.
 */
import dns from 'node:dns';
import type { LookupAddress } from 'node:dns';
import type net from 'node:net';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Ranges an operator may allow by name; anything else special only by an explicit CIDR. */
export const ALLOWABLE_CLASSES = ['loopback', 'private', 'link-local', 'cgnat'] as const;
export type AllowableClass = (typeof ALLOWABLE_CLASSES)[number];

/** ipaddr.js range → the words used in settings and messages. */
const CLASS_OF_RANGE: Record<string, AllowableClass> = {
  loopback: 'loopback',
  private: 'private',
  uniqueLocal: 'private',
  linkLocal: 'link-local',
  carrierGradeNat: 'cgnat',
};
const CLASS_WORDS: Record<AllowableClass | 'special', string> = {
  loopback: 'a loopback address',
  private: 'a private-network address',
  'link-local': 'a link-local address',
  cgnat: 'a carrier-grade NAT address',
  special: 'a special-purpose address (unspecified, multicast, broadcast, reserved or translated)',
};

export interface OutboundAllowance {
  classes: ReadonlySet<AllowableClass>;
  cidrs: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

/** `loopback,private,10.20.0.0/16`: throws a message for the operator on anything else. */
export function parseOutboundAllow(raw: string | undefined): OutboundAllowance {
  const classes = new Set<AllowableClass>();
  const cidrs: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  for (const item of (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if ((ALLOWABLE_CLASSES as readonly string[]).includes(item)) classes.add(item as AllowableClass);
    else if (item.includes('/')) {
      try {
        const [net, bits] = ipaddr.parseCIDR(item);
        cidrs.push([net.kind() === 'ipv6' && (net as ipaddr.IPv6).isIPv4MappedAddress() ? (net as ipaddr.IPv6).toIPv4Address() : net, bits]);
      } catch {
        throw new Error(`TIMEBOX_OUTBOUND_ALLOW: "${item}" is not a CIDR such as 10.20.0.0/16`);
      }
    } else {
      throw new Error(`TIMEBOX_OUTBOUND_ALLOW: "${item}" is neither one of ${ALLOWABLE_CLASSES.join(', ')} nor a CIDR`);
    }
  }
  return { classes, cidrs };
}

const IPV6_RESERVED_ZERO = ipaddr.parseCIDR('::/8');

/** A literal address in any form ipaddr.js reads, normalized (IPv4-mapped IPv6 → IPv4); else null. */
export function parseAddress(host: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (!ipaddr.isValid(bare)) return null;
  // Zone ids (fe80::1%eth0) are refused with the rest of link-local; ipaddr keeps them apart.
  return ipaddr.process(bare);
}

/** The refusal: which class the address is in, for the message and the log. */
export class OutboundRefused extends Error {
  readonly code = 'EOUTBOUND';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly addressClass: string,
  ) {
    super(`${host === address ? address : `${host} (${address})`} is ${addressClass}, which this server does not connect to unless its operator allows it (TIMEBOX_OUTBOUND_ALLOW)`);
    this.name = 'OutboundRefused';
  }
}

export type Resolver = (host: string) => Promise<LookupAddress[]>;
const systemResolver: Resolver = (host) => dns.promises.lookup(host, { all: true, verbatim: true });

export interface PinnedAddress {
  address: string;
  family: 4 | 6;
}

export interface OutboundPolicy {
  /** Null when the address may be reached; otherwise its class in words. */
  addressProblem(address: ipaddr.IPv4 | ipaddr.IPv6): string | null;
  /** For a literal address in any form (no resolution): the refusal in words, or null. */
  literalProblem(host: string): string | null;
  /** Resolves (literal forms without DNS), checks every address, returns the one to connect to. */
  resolve(host: string): Promise<PinnedAddress>;
  /** A dns.lookup drop-in for net/tls/http: the same check, so the socket goes to the checked address. */
  lookup: LookupFunction;
}

export function createOutboundPolicy(opts: { allow?: string | OutboundAllowance; resolver?: Resolver } = {}): OutboundPolicy {
  const allowance = typeof opts.allow === 'object' ? opts.allow : parseOutboundAllow(opts.allow);
  const resolver = opts.resolver ?? systemResolver;

  function addressProblem(address: ipaddr.IPv4 | ipaddr.IPv6): string | null {
    const ip = address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
    for (const [net, bits] of allowance.cidrs) if (net.kind() === ip.kind() && ip.match(net, bits)) return null;
    const range = ip.range();
    // ::/8 besides ::, ::1 and IPv4-mapped (handled above) is reserved, and ::a.b.c.d (IPv4-compatible,
    // deprecated) names an IPv4 host some stacks still reach: ipaddr.js calls it unicast.
    if (range === 'unicast' && ip.kind() === 'ipv6' && ip.match(IPV6_RESERVED_ZERO)) return CLASS_WORDS.special;
    if (range === 'unicast') return null;
    const cls = CLASS_OF_RANGE[range];
    if (cls && allowance.classes.has(cls)) return null;
    return CLASS_WORDS[cls ?? 'special'];
  }

  function literalProblem(host: string): string | null {
    const ip = parseAddress(host);
    if (!ip) return isLocalhostName(host) && !allowance.classes.has('loopback') ? CLASS_WORDS.loopback : null;
    return addressProblem(ip);
  }

  /** Every address of the host, all checked, IPv4 first (the family most services listen on). */
  async function resolveAll(host: string): Promise<PinnedAddress[]> {
    const literal = parseAddress(host);
    const found: LookupAddress[] = literal
      ? [{ address: literal.toString(), family: literal.kind() === 'ipv6' ? 6 : 4 }]
      : await resolver(host.replace(/\.$/, ''));
    if (found.length === 0) throw Object.assign(new Error(`${host} has no address`), { code: 'ENOTFOUND' });
    const out: PinnedAddress[] = [];
    // Every answer must pass: a name that also points inside is not trusted with its other answers.
    for (const a of found) {
      const ip = parseAddress(a.address)!;
      const problem = addressProblem(ip);
      if (problem) throw new OutboundRefused(host, ip.toString(), problem);
      out.push({ address: ip.toString(), family: ip.kind() === 'ipv6' ? 6 : 4 });
    }
    return out.sort((a, b) => a.family - b.family);
  }

  const resolve = async (host: string) => (await resolveAll(host))[0]!;

  return {
    addressProblem,
    literalProblem,
    resolve,
    lookup(hostname, options, callback) {
      // Node asks for every address (`all`) when it races IPv4 and IPv6; one pinned answer serves both.
      const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true;
      resolveAll(hostname).then(
        (list) => (all ? (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list) : callback(null, list[0]!.address, list[0]!.family)),
        (err: NodeJS.ErrnoException) => callback(err, '', 0),
      );
    },
  };
}

/**
 * Opens `socket` (with its own `connect`) to host:port through the policy. Node calls a `lookup`
 * only for names, so an address written as a literal (127.0.0.1, ::ffff:127.0.0.1,
 * 169.254.169.254) is checked here; a refused one destroys the socket with the refusal, as a
 * refused name does through the lookup.
 */
export function connectThroughPolicy(
  policy: OutboundPolicy,
  socket: net.Socket,
  connect: (opts: net.TcpNetConnectOpts) => net.Socket,
  host: string,
  port: number,
): net.Socket {
  const problem = policy.literalProblem(host);
  if (problem) {
    const refused = literalRefusal(host, problem);
    process.nextTick(() => socket.destroy(refused));
    return socket;
  }
  return connect({ host, port, lookup: policy.lookup });
}

/**
 * For clients that take no socket of ours (TLS and HTTP sinks): throws the refusal of a host
 * written as a literal address, which their lookups never see; names go through `lookup`.
 */
export function refuseDisallowedLiteral(policy: OutboundPolicy, host: string): void {
  const problem = policy.literalProblem(host);
  if (problem) throw literalRefusal(host, problem);
}

const literalRefusal = (host: string, problem: string) => new OutboundRefused(host, parseAddress(host)?.toString() ?? host, problem);

/** `[::1]` → `::1` (URL keeps the brackets of IPv6 literals); `localhost.` → `localhost`. */
export const bare = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();

/** localhost or a loopback address in any form: this very host. */
export function isLoopbackHost(hostname: string): boolean {
  const host = bare(hostname);
  if (isLocalhostName(host)) return true;
  return parseAddress(host)?.range() === 'loopback';
}

/**
 * localhost, or an address written literally outside the public internet: where plain http may
 * be allowed (a name could resolve anywhere, so it never counts).
 */
export function isInternalHost(hostname: string): boolean {
  const host = bare(hostname);
  if (isLocalhostName(host)) return true;
  const ip = parseAddress(host);
  return ip !== null && ip.range() !== 'unicast';
}

/** localhost and *.localhost always mean this host (RFC 6761), whatever a resolver says. */
export function isLocalhostName(host: string): boolean {
  const h = host.replace(/\.$/, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost');
}

/** For connectors built without a server (their own tests): no refusal, plain resolution. */
export const unrestrictedOutbound: OutboundPolicy = createOutboundPolicy({ allow: { classes: new Set(ALLOWABLE_CLASSES), cidrs: [[ipaddr.parse('0.0.0.0'), 0], [ipaddr.parse('::'), 0]] } });
