/**
 * Key generation for new certificate authorities, one recipe per kind:
 * - ssh: Ed25519 by ssh-keygen (the OpenSSH private key format is what ssh-keygen -s reads back);
 * - x509: ECDSA P-256 and a self-signed CA certificate (P-256 is accepted by every TLS stack);
 * - jwt: Ed25519 (JWS alg EdDSA) with jose; the JWK thumbprint (RFC 7638) is the `kid`.
 */
import { randomBytes, webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { JsonName } from '@peculiar/x509';
import type { CaKind } from './types.js';
import { x509Library } from './x509-library.js';
import { sshFingerprint } from './ssh-public-key.js';
import { sshKeygen, withPrivateDir } from './private-dir.js';

export interface GeneratedCaKey {
  algorithm: string;
  keyId: string;
  publicKey: string;
  /** Plaintext private key: the caller encrypts it before it goes anywhere. */
  privateKey: string;
  notAfter: Date | null;
}

export interface CaKeyOptions {
  caId: string;
  tenantId: string;
  now: Date;
  scratchRoot?: string;
  /** Lifetime of X.509 CA certificates; rotation normally happens long before. */
  x509ValidityDays?: number;
}

export const X509_SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
export const X509_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const JWT_ALG = 'EdDSA';

export function generateCaKey(kind: CaKind, opts: CaKeyOptions): Promise<GeneratedCaKey> {
  switch (kind) {
    case 'ssh':
      return sshCaKey(opts);
    case 'x509':
      return x509CaKey(opts);
    case 'jwt':
      return jwtCaKey();
  }
}

async function sshCaKey(opts: CaKeyOptions): Promise<GeneratedCaKey> {
  return withPrivateDir(opts.scratchRoot, async (dir) => {
    const file = path.join(dir, 'ca');
    // The comment travels with the public key into hosts' TrustedUserCAKeys files: say whose it is.
    await sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-C', `timebox-ca:${opts.tenantId}:${opts.caId}`, '-f', file]);
    const privateKey = await readFile(file, 'utf8');
    const publicKey = (await readFile(`${file}.pub`, 'utf8')).trim();
    const blob = Buffer.from(publicKey.split(' ')[1]!, 'base64');
    return { algorithm: 'ssh-ed25519', keyId: sshFingerprint(blob), publicKey, privateKey, notAfter: null };
  });
}

/** The CA's distinguished name carries its id, so CRLs of rotated CAs never share an issuer name. */
export function x509CaName(caId: string, tenantId: string): JsonName {
  return [{ CN: [`Timebox client CA ${caId}`] }, { O: ['Timebox'] }, { OU: [`tenant ${tenantId}`] }];
}

async function x509CaKey(opts: CaKeyOptions): Promise<GeneratedCaKey> {
  const { BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension, PemConverter, SubjectKeyIdentifierExtension, X509CertificateGenerator } = await x509Library();
  const keys = (await webcrypto.subtle.generateKey(X509_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ski = await SubjectKeyIdentifierExtension.create(keys.publicKey);
  // Back-date a little: relying parties with a slightly slow clock must already trust a new CA.
  const notBefore = new Date(+opts.now - 5 * 60_000);
  const notAfter = new Date(+opts.now + (opts.x509ValidityDays ?? 3650) * 86_400_000);
  // @peculiar/x509 uses Node's global WebCrypto by default.
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: positiveSerialHex(randomBytes(16)),
    name: x509CaName(opts.caId, opts.tenantId),
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: X509_SIGNING,
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
      ski,
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    algorithm: 'ecdsa-p256',
    keyId: ski.keyId,
    publicKey: cert.toString('pem'),
    privateKey: PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    notAfter: cert.notAfter,
  };
}

async function jwtCaKey(): Promise<GeneratedCaKey> {
  // Loaded here: a server start needs no JOSE code.
  const { calculateJwkThumbprint, exportJWK, generateKeyPair } = await import('jose');
  const { publicKey, privateKey } = await generateKeyPair(JWT_ALG, { crv: 'Ed25519', extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub);
  const priv = await exportJWK(privateKey);
  return {
    algorithm: JWT_ALG,
    keyId: kid,
    publicKey: JSON.stringify({ ...pub, kid, alg: JWT_ALG, use: 'sig' }),
    privateKey: JSON.stringify({ ...priv, kid, alg: JWT_ALG }),
    notAfter: null,
  };
}

/** DER INTEGERs are signed: keep the top bit clear and the value non-zero. */
export function positiveSerialHex(bytes: Buffer): string {
  const b = Buffer.from(bytes);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}
