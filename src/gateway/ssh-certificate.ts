/**
 * Reading and checking the OpenSSH user certificates the gateway accepts (PROTOCOL.certkeys):
 * Ed25519 keys certified by the gateway's own Ed25519 CA. Pure: no I/O.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { SshReader } from '../credentials/ssh-wire.js';

export const ED25519_CERT = 'ssh-ed25519-cert-v01@openssh.com';

export interface ParsedCertificate {
  /** The certified key as a plain `ssh-ed25519` public key blob. */
  keyBlob: Buffer;
  rawKey: Buffer;
  serial: bigint;
  /** 1: user, 2: host. */
  type: number;
  keyId: string;
  principals: string[];
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: Buffer;
  caKeyBlob: Buffer;
  signature: Buffer;
  signedData: Buffer;
}

function sshString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

export function parseEd25519Certificate(blob: Buffer): ParsedCertificate {
  const r = new SshReader(blob);
  if (r.text() !== ED25519_CERT) throw new Error('not an Ed25519 user certificate');
  r.bytes(); // nonce
  const rawKey = r.bytes();
  if (rawKey.length !== 32) throw new Error('malformed Ed25519 key');
  const serial = r.u64();
  const type = r.u32();
  const keyId = r.text();
  const list = new SshReader(r.bytes());
  const principals: string[] = [];
  while (!list.done) principals.push(list.bytes().toString('utf8'));
  const validAfter = r.u64();
  const validBefore = r.u64();
  const criticalOptions = r.bytes();
  r.bytes(); // extensions
  r.bytes(); // reserved
  const caKeyBlob = r.bytes();
  const signedData = blob.subarray(0, r.offset);
  const signature = r.bytes();
  if (!r.done) throw new Error('trailing bytes after the certificate');
  return {
    keyBlob: Buffer.concat([sshString('ssh-ed25519'), sshString(rawKey)]),
    rawKey,
    serial,
    type,
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    caKeyBlob,
    signature,
    signedData,
  };
}

function ed25519Key(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** The raw key of an `ssh-ed25519` public key blob, or null for another type. */
export function ed25519RawKey(blob: Buffer): Buffer | null {
  try {
    const r = new SshReader(blob);
    if (r.text() !== 'ssh-ed25519') return null;
    const raw = r.bytes();
    return raw.length === 32 && r.done ? raw : null;
  } catch {
    return null;
  }
}

/**
 * Checks an SSH `ssh-ed25519` signature over `data` by the raw key. `signature` is either the
 * wire blob (string algorithm, string bytes) or the bare 64 bytes.
 */
export function verifyEd25519(rawKey: Buffer, data: Buffer, signature: Buffer): boolean {
  let sig = signature;
  if (sig.length !== 64) {
    try {
      const r = new SshReader(signature);
      if (r.text() !== 'ssh-ed25519') return false;
      sig = r.bytes();
      if (!r.done) return false;
    } catch {
      return false;
    }
  }
  if (sig.length !== 64) return false;
  try {
    return verify(null, data, ed25519Key(rawKey), sig);
  } catch {
    return false;
  }
}

export type CertificateProblem = 'not_signed_by_gateway_ca' | 'not_a_user_certificate' | 'not_yet_valid' | 'expired' | 'no_operator_principal' | 'critical_options';

/**
 * The operator a gateway certificate names, or why it is refused. The CA must be the gateway's;
 * the key id and principal name the operator; critical options are refused (none are issued).
 */
export function checkOperatorCertificate(cert: ParsedCertificate, caKeyBlob: Buffer, nowSeconds: number): { operatorId: string } | { problem: CertificateProblem } {
  const caRaw = ed25519RawKey(caKeyBlob);
  if (!caRaw || !cert.caKeyBlob.equals(caKeyBlob) || !verifyEd25519(caRaw, cert.signedData, cert.signature)) {
    return { problem: 'not_signed_by_gateway_ca' };
  }
  if (cert.type !== 1) return { problem: 'not_a_user_certificate' };
  const now = BigInt(nowSeconds);
  if (now < cert.validAfter) return { problem: 'not_yet_valid' };
  if (now >= cert.validBefore) return { problem: 'expired' };
  if (cert.criticalOptions.length > 0) return { problem: 'critical_options' };
  const principal = cert.principals.length === 1 ? cert.principals[0]! : '';
  const m = /^timebox-operator:([0-9a-f-]{36})$/.exec(principal);
  if (!m || !cert.keyId.startsWith(`timebox-gateway:${m[1]}:`)) return { problem: 'no_operator_principal' };
  return { operatorId: m[1]! };
}
