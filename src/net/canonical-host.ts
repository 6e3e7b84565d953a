/**
 * One spelling per host, for comparing where two targets lead: an address literal in any form a
 * resolver accepts (`127.1`, `0x7f.1`, `167772161`, `[::ffff:7f00:1]`) becomes its normal form,
 * and a name is lowered and loses a trailing dot. Names are not resolved (DNS can change between
 * two checks): two names for one server still differ, and the ownership marker on the target is
 * what catches that.
 */
import { parseAddress } from './outbound-policy.js';

export function canonicalHost(host: string): string {
  const bare = host.trim();
  const address = parseAddress(bare);
  if (address) return address.toNormalizedString();
  return bare.replace(/\.$/, '').toLowerCase();
}
