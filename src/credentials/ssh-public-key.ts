/**
 * Validation of a user's OpenSSH public key before we sign it. Every refusal says what was wrong
 * and what to send instead, because the person reading it pasted a key into a form.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { AppError, badRequest } from '../core/errors.js';
import { weakEd25519Key, weakRsaKey } from './weak-keys.js';
import { SshReader, bitLength } from './ssh-wire.js';

export interface SshPublicKey {
  type: string;
  /** The decoded key blob (wire format). */
  blob: Buffer;
  /** Key size in bits (RSA modulus, EC curve size, 256 for Ed25519). */
  bits: number;
  /** Normalised `type base64`, without the comment: what gets written for ssh-keygen. */
  line: string;
  /** `SHA256:…` as ssh-keygen -l prints it. */
  fingerprint: string;
}

export const MIN_RSA_BITS = 3072;
const MAX_INPUT = 16 * 1024;
const CURVES = { nistp256: ['P-256', 256, 65], nistp384: ['P-384', 384, 97], nistp521: ['P-521', 521, 133] } as const;
type CurveName = keyof typeof CURVES;

const ACCEPTED =
  'ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa of at least 3072 bits, sk-ssh-ed25519@openssh.com or sk-ecdsa-sha2-nistp256@openssh.com';
const KNOWN_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com|[a-z0-9-]+-cert-v01@openssh\.com)$/;
const refuse = (why: string) => badRequest(`SSH public key refused: ${why}`);

export function parseSshPublicKey(input: string): SshPublicKey {
  if (typeof input !== 'string' || input.trim() === '') throw refuse('it is empty');
  if (input.length > MAX_INPUT) throw refuse(`it is longer than ${MAX_INPUT} characters`);
  const text = input.trim();
  if (/PRIVATE KEY/.test(text)) {
    throw refuse('this is a PRIVATE key; never share it. Send the public key (the .pub file) instead');
  }
  if (text.startsWith('-----BEGIN') || text.startsWith('---- BEGIN')) {
    throw refuse('PEM/RFC 4716 keys are not accepted; send the OpenSSH one-line format (ssh-keygen -y -f KEY)');
  }
  if (/[\r\n]/.test(text)) throw refuse('send exactly one key on one line');
  if (/[\p{Cc}]/u.test(text.replace(/\t/g, ' '))) throw refuse('it contains control characters');

  const [type = '', b64 = '', ...comment] = text.split(/[ \t]+/);
  if (!KNOWN_TYPE.test(type)) {
    if (text.split(/[ \t]+/).some((t) => KNOWN_TYPE.test(t))) {
      throw refuse('authorized_keys options (from=, command=, …) are not accepted; send only "type base64 [comment]"');
    }
    throw refuse(`unknown key type "${type.slice(0, 40)}"; accepted: ${ACCEPTED}`);
  }
  if (type.endsWith('-cert-v01@openssh.com')) {
    throw refuse('this is a certificate; send the plain public key (KEY.pub, not KEY-cert.pub)');
  }
  if (type === 'ssh-dss') throw refuse('DSA keys are weak and disabled by OpenSSH; generate an ssh-ed25519 key');
  if (b64 === '') throw refuse('the base64 key data is missing');
  // Buffer.from ignores junk in base64; insist on the canonical encoding so nothing is silently dropped.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw refuse('the key data is not valid base64');
  const blob = Buffer.from(b64, 'base64');
  if (blob.toString('base64') !== b64) throw refuse('the key data is not valid (non-canonical) base64');
  if (comment.join(' ').length > 1024) throw refuse('the comment is too long');

  let bits: number;
  try {
    bits = checkBlob(type, blob);
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw refuse(`the key data is malformed (${err instanceof Error ? err.message : 'unreadable'})`);
  }
  return { type, blob, bits, line: `${type} ${b64}`, fingerprint: sshFingerprint(blob) };
}

export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses the blob fully (trailing bytes are refused) and returns its size in bits. */
function checkBlob(type: string, blob: Buffer): number {
  const r = new SshReader(blob);
  const inner = r.text();
  if (inner !== type) throw refuse(`the key data says "${inner.slice(0, 40)}" but the line says "${type}"`);
  let bits: number;
  switch (type) {
    case 'ssh-ed25519':
    case 'sk-ssh-ed25519@openssh.com': {
      const raw = r.bytes();
      if (raw.length !== 32) throw new Error('an Ed25519 key is 32 bytes');
      const weak = weakEd25519Key(raw);
      if (weak) throw refuse(`this Ed25519 key protects nothing: ${weak}`);
      bits = 256;
      break;
    }
    case 'ssh-rsa': {
      const e = r.positiveMpint();
      const n = r.positiveMpint();
      bits = bitLength(n);
      if (bits < MIN_RSA_BITS) {
        throw refuse(`RSA keys must have at least ${MIN_RSA_BITS} bits, this one has ${bits}; generate an ssh-ed25519 key`);
      }
      if (bits > 16384) throw refuse('RSA keys over 16384 bits are not supported by OpenSSH');
      const weak = weakRsaKey(n, e);
      if (weak) throw refuse(`this RSA key protects nothing: ${weak}`);
      break;
    }
    default: {
      const curve = type.replace(/^(sk-)?ecdsa-sha2-/, '').replace(/@openssh\.com$/, '') as CurveName;
      const spec = CURVES[curve];
      if (!spec) throw new Error('unsupported curve');
      if (r.text() !== curve) throw new Error('curve name does not match the key type');
      const q = r.bytes();
      if (q.length !== spec[2] || q[0] !== 4) throw new Error('the EC point is not an uncompressed point of this curve');
      const half = (q.length - 1) / 2;
      // Node's import checks that the point lies on the curve; a bogus point would fail at login anyway.
      try {
        const [x, y] = [q.subarray(1, 1 + half), q.subarray(1 + half)].map((c) => c.toString('base64url'));
        createPublicKey({ key: { kty: 'EC', crv: spec[0], x, y }, format: 'jwk' });
      } catch {
        throw new Error('the EC point is not on the curve');
      }
      bits = spec[1];
    }
  }
  if (type.startsWith('sk-')) {
    const application = r.text();
    if (!application.startsWith('ssh:')) throw new Error('a security key application must start with "ssh:"');
  }
  if (!r.done) throw new Error('unexpected bytes after the key');
  return bits;
}
