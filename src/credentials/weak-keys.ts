/**
 * Public keys that parse but protect nothing, for the certificate engines (SSH and X.509): with
 * them a signature can be made without any secret, so a certificate issued for one would be
 * usable by anyone who sees it.
 * - RSA: the public exponent must be odd and at least 65537 (e = 1 makes every "signature" the
 *   message itself); the modulus must be odd (an even one is no product of two large primes).
 * - Ed25519: points of small order (the identity, zero, and the others of order 2, 4 or 8) let a
 *   signature verify for any message. Compared as libsodium does, with the sign bit ignored.
 */
const MIN_RSA_EXPONENT = 65537n;

const SMALL_ORDER_ED25519 = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((h) => Buffer.from(h, 'hex'));

const toBigInt = (bytes: Uint8Array) => (bytes.length ? BigInt(`0x${Buffer.from(bytes).toString('hex')}`) : 0n);

/** Why an RSA key (big-endian modulus and exponent) is no key, or null. */
export function weakRsaKey(modulus: Uint8Array, exponent: Uint8Array): string | null {
  const e = toBigInt(exponent);
  if (e < MIN_RSA_EXPONENT || e % 2n === 0n) return `its public exponent ${e < 1n << 64n ? e : 'value'} is not an odd number of at least 65537`;
  if (modulus.length === 0 || (modulus[modulus.length - 1]! & 1) === 0) return 'its modulus is even, so it is no product of two primes';
  return null;
}

/** Why a 32-byte Ed25519 public key is no key, or null. */
export function weakEd25519Key(raw: Uint8Array): string | null {
  if (raw.length !== 32) return 'an Ed25519 key is 32 bytes';
  const small = SMALL_ORDER_ED25519.some((p) => p.subarray(0, 31).equals(Buffer.from(raw.subarray(0, 31))) && p[31] === (raw[31]! & 0x7f));
  return small ? 'it is a point of small order, with which a signature verifies for any message' : null;
}
