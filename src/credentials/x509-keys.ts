/**
 * Checks on the key a client certificate is issued for: given as an SPKI PEM public key or inside
 * a PKCS#10 CSR (whose signature proves the requester holds the private key).
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Pkcs10CertificateRequest } from '@peculiar/x509';
import { badRequest } from '../core/errors.js';
import { weakEd25519Key, weakRsaKey } from './weak-keys.js';
import { x509Library } from './x509-library.js';

export const MIN_X509_RSA_BITS = 2048;
const CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
const SUPPORTED = `EC P-256/P-384/P-521, RSA of at least ${MIN_X509_RSA_BITS} bits, or Ed25519`;
const MAX_PEM = 64 * 1024;

/** SubjectPublicKeyInfo (DER) of an acceptable key. */
export interface CheckedKey {
  spki: Buffer;
  algorithm: string;
}

/**
 * Refuses keys a relying party should not trust, with a message naming the problem. `sent`: the
 * SubjectPublicKeyInfo as the requester wrote it (DER).
 */
export function checkKeyObject(key: KeyObject, what: string, sent?: Buffer): CheckedKey {
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  switch (type) {
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < MIN_X509_RSA_BITS) throw badRequest(`${what}: RSA keys must have at least ${MIN_X509_RSA_BITS} bits, this one has ${bits}`);
      if (bits > 16384) throw badRequest(`${what}: RSA keys over 16384 bits are not supported`);
      const jwk = key.export({ format: 'jwk' });
      const weak = weakRsaKey(Buffer.from(jwk.n ?? '', 'base64url'), Buffer.from(jwk.e ?? '', 'base64url'));
      if (weak) throw badRequest(`${what}: this RSA key protects nothing: ${weak}`);
      // The key written again must be the bytes sent: OpenSSL reads a negative or zero-padded
      // modulus as its magnitude, while other software reads it otherwise or refuses it.
      if (sent && !sent.equals(key.export({ format: 'der', type: 'spki' }))) {
        throw badRequest(`${what}: this RSA key is not in canonical DER (a negative or zero-padded number); export it again with standard tools`);
      }
      break;
    }
    case 'ec':
      if (!CURVES.has(details.namedCurve ?? '')) {
        throw badRequest(`${what}: EC curve ${details.namedCurve ?? 'unknown'} is not supported; use ${SUPPORTED}`);
      }
      break;
    case 'ed25519': {
      const weak = weakEd25519Key(Buffer.from(key.export({ format: 'jwk' }).x ?? '', 'base64url'));
      if (weak) throw badRequest(`${what}: this Ed25519 key protects nothing: ${weak}`);
      break;
    }
    default:
      throw badRequest(`${what}: ${type.toUpperCase()} keys are not supported; use ${SUPPORTED}`);
  }
  return { spki: key.export({ format: 'der', type: 'spki' }), algorithm: type };
}

export function parsePublicKeyPem(pem: string): CheckedKey {
  if (typeof pem !== 'string' || pem.length > MAX_PEM) throw badRequest('public key: expected a PEM "PUBLIC KEY"');
  if (/PRIVATE KEY/.test(pem)) throw badRequest('public key: this is a PRIVATE key; never share it, send the public key');
  if (!/^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----$/.test(pem.trim())) {
    throw badRequest('public key: expected exactly one PEM block "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo)');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem.trim(), format: 'pem' });
  } catch {
    throw badRequest('public key: the PEM does not contain a readable public key');
  }
  const sent = Buffer.from(pem.trim().replace(/-----[^-]+-----|\s/g, ''), 'base64');
  return checkKeyObject(key, 'public key', sent);
}

/** The CSR's key, once its algorithm is acceptable and its self-signature verifies. */
export async function parseCsrPem(pem: string): Promise<CheckedKey> {
  if (typeof pem !== 'string' || pem.length > MAX_PEM) throw badRequest('CSR: expected a PEM "CERTIFICATE REQUEST"');
  if (!/^-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n[A-Za-z0-9+/=\r\n]+-----END (NEW )?CERTIFICATE REQUEST-----$/.test(pem.trim())) {
    throw badRequest('CSR: expected exactly one PEM block "-----BEGIN CERTIFICATE REQUEST-----" (PKCS#10)');
  }
  const x509 = await x509Library();
  let csr: Pkcs10CertificateRequest;
  let key: KeyObject;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem.trim().replace(/(NEW )?CERTIFICATE REQUEST/g, 'CERTIFICATE REQUEST'));
    key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  } catch {
    throw badRequest('CSR: not a readable PKCS#10 certificate signing request');
  }
  // Key strength first: a weak key is refused with that reason whether or not the signature verifies.
  const checked = checkKeyObject(key, 'CSR', Buffer.from(csr.publicKey.rawData));
  let verified = false;
  try {
    verified = await csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) throw badRequest('CSR: its signature does not verify (altered, or not signed by its own key)');
  return checked;
}

/** A fresh P-256 key pair for a user who has none; the PKCS#8 private key is returned once. */
export function generateX509KeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}
