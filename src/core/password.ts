/**
 * Passwords for JIT accounts: drawn uniformly from characters that need no quoting anywhere a
 * password travels. In core because both the server and the endpoint agent choose passwords.
 */
import { randomBytes } from 'node:crypto';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
/**
 * Symbols that need no quoting or escaping in shells, LDAP filters/values, SQL literals,
 * connection URLs (all are RFC 3986 unreserved or harmless in userinfo) and key=value strings:
 * no quotes, backslash, space, $ ! ` & | ; < > ( ) * ? # % @ : / , { } [ ].
 */
export const PASSWORD_SYMBOLS = '-_.~+=';
const ALL = LOWER + UPPER + DIGITS + PASSWORD_SYMBOLS;
const ALNUM = LOWER + UPPER + DIGITS;

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;

/**
 * A password with at least one lowercase, uppercase, digit and symbol, every character drawn
 * uniformly. The first character is alphanumeric so a password never looks like a command-line
 * option ("-x") or a shell tilde expansion ("~user").
 * Whole passwords missing a class are drawn again (instead of forcing one character of each
 * class into place), which keeps the result uniform over all acceptable passwords.
 */
export function generatePassword(length = 24): string {
  if (!Number.isInteger(length) || length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    throw new RangeError(`password length must be an integer from ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH}`);
  }
  for (;;) {
    let pw = pick(ALNUM);
    for (let i = 1; i < length; i++) pw += pick(ALL);
    if (hasEveryClass(pw)) return pw;
  }
}

function hasEveryClass(pw: string): boolean {
  const has = (set: string) => [...pw].some((c) => set.includes(c));
  return has(LOWER) && has(UPPER) && has(DIGITS) && has(PASSWORD_SYMBOLS);
}

/** Random bytes are buffered: one syscall serves many picks. */
let pool = Buffer.alloc(0);
let poolPos = 0;
function randomByte(): number {
  if (poolPos >= pool.length) {
    pool = randomBytes(256);
    poolPos = 0;
  }
  return pool[poolPos++]!;
}

/** Uniform choice by rejection sampling: bytes at or above the largest multiple of n are dropped. */
function pick(alphabet: string): string {
  const n = alphabet.length;
  const limit = 256 - (256 % n);
  for (;;) {
    const b = randomByte();
    if (b < limit) return alphabet[b % n]!;
  }
}
