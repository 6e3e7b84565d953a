/**
 * Distinguished names (RFC 4514): parsed, so configuration and entitlements are checked before
 * they reach the directory, and compared the way Active Directory compares them (attribute names
 * and values case-insensitively, escaping and spacing ignored).
 */
import { decodeUtf8 } from '../../core/text.js';
import { escapeDnValue } from './escape.js';

export interface Ava {
  type: string;
  value: string;
}
/** One RDN: usually one attribute, several for multi-valued RDNs (`CN=a+UID=b`). */
export type Rdn = Ava[];

export class DnSyntaxError extends Error {
  override name = 'DnSyntaxError';
}

const TYPE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)/;
/** Characters RFC 4514 forbids unescaped inside a value (`,` and `+` end it instead). */
const MUST_ESCAPE = new Set(['"', ';', '<', '>', '\u0000']);

/**
 * Parses "CN=Server Admins,OU=Groups,DC=example,DC=com". Tolerates the spaces people type after
 * commas and around "="; refuses the hex (#…) value form, which AD never needs for CN/OU/DC.
 */
export function parseDn(input: string): Rdn[] {
  if (input.trim() === '') throw new DnSyntaxError('the DN is empty');
  const rdns: Rdn[] = [];
  let rdn: Rdn = [];
  let i = 0;
  const skipSpaces = () => {
    while (input[i] === ' ') i++;
  };

  for (;;) {
    skipSpaces();
    const type = TYPE.exec(input.slice(i))?.[0];
    if (!type) throw new DnSyntaxError(`expected an attribute name such as CN, OU or DC at position ${i + 1}`);
    i += type.length;
    skipSpaces();
    if (input[i] !== '=') throw new DnSyntaxError(`expected "=" after "${type}"`);
    i++;
    skipSpaces();
    if (input[i] === '#') throw new DnSyntaxError(`hex-encoded values (#…) are not supported (in ${type})`);

    const bytes: number[] = [];
    let trailingSpaces = 0; // unescaped, so not part of the value
    while (i < input.length && input[i] !== ',' && input[i] !== '+') {
      const ch = input[i]!;
      if (ch === '\\') {
        const pair = input.slice(i + 1, i + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(pair)) {
          bytes.push(parseInt(pair, 16));
          i += 3;
        } else if (i + 1 < input.length) {
          const cp = String.fromCodePoint(input.codePointAt(i + 1)!);
          bytes.push(...Buffer.from(cp, 'utf8'));
          i += 1 + cp.length;
        } else {
          throw new DnSyntaxError(`a DN cannot end with a lone "\\" (in ${type})`);
        }
        trailingSpaces = 0;
        continue;
      }
      if (MUST_ESCAPE.has(ch)) throw new DnSyntaxError(`"${ch === '\u0000' ? 'NUL' : ch}" must be escaped with "\\" (in ${type})`);
      const cp = String.fromCodePoint(input.codePointAt(i)!);
      bytes.push(...Buffer.from(cp, 'utf8'));
      trailingSpaces = ch === ' ' ? trailingSpaces + 1 : 0;
      i += cp.length;
    }
    const raw = Buffer.from(bytes.slice(0, bytes.length - trailingSpaces));
    const value = decodeUtf8(raw);
    if (value === null) throw new DnSyntaxError(`the value of ${type} is not valid UTF-8`);
    if (value === '') throw new DnSyntaxError(`the value of ${type} is empty`);
    rdn.push({ type, value });

    if (i >= input.length) {
      rdns.push(rdn);
      return rdns;
    }
    if (input[i] === ',') {
      rdns.push(rdn);
      rdn = [];
    }
    i++; // past "," or "+"
  }
}

/** Returns a message for a person, or null when `input` is a DN. */
export function dnProblem(input: string): string | null {
  try {
    parseDn(input);
    return null;
  } catch (err) {
    return err instanceof DnSyntaxError ? err.message : String(err);
  }
}

export const formatDn = (rdns: Rdn[]) =>
  rdns.map((rdn) => rdn.map((a) => `${a.type}=${escapeDnValue(a.value)}`).join('+')).join(',');

const normalRdn = (rdn: Rdn) =>
  rdn
    .map((a) => `${a.type.toLowerCase()}=${escapeDnValue(a.value.toLowerCase())}`)
    .sort()
    .join('+');

/** The form two DNs share exactly when AD considers them the same object name. */
export const normalizeDn = (dn: string) => parseDn(dn).map(normalRdn).join(',');

export const sameDn = (a: string, b: string) => normalizeDn(a) === normalizeDn(b);

/** `dn` is `base` itself or below it. */
export function isWithin(dn: string, base: string): boolean {
  const child = parseDn(dn).map(normalRdn);
  const parent = parseDn(base).map(normalRdn);
  if (child.length < parent.length) return false;
  const offset = child.length - parent.length;
  return parent.every((rdn, k) => child[offset + k] === rdn);
}

/** The DN one level up, normalised; '' for a single-RDN DN. */
export const parentOf = (dn: string) => parseDn(dn).slice(1).map(normalRdn).join(',');
