import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { withPrivateDir } from './private-dir.js';
import { parseCsrPem, parsePublicKeyPem } from './x509-keys.js';

const run = promisify(execFile);
const spki = (key: ReturnType<typeof generateKeyPairSync>['publicKey']) => key.export({ format: 'pem', type: 'spki' }).toString();
const csrs: Record<string, string> = {};
const fromJwk = (key: JsonWebKey) => createPublicKey({ key, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
const rsaVariant = (change: (jwk: JsonWebKey) => JsonWebKey) =>
  fromJwk(change(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' })));
const evenModulus = (n: string) => {
  const bytes = Buffer.from(n, 'base64url');
  bytes[bytes.length - 1]! &= 0xfe;
  return bytes.toString('base64url');
};
const edKey = (raw: Buffer) => fromJwk({ kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') });
/** An RSA SubjectPublicKeyInfo with `modulus` written as given (DER INTEGER content bytes). */
const rsaSpkiWith = (modulus: Buffer) => {
  const tlv = (tag: number, v: Buffer) =>
    Buffer.concat([Buffer.from([tag]), v.length < 128 ? Buffer.from([v.length]) : Buffer.from([0x82, v.length >> 8, v.length & 255]), v]);
  const algorithm = tlv(0x30, Buffer.from('06092a864886f70d0101010500', 'hex'));
  const key = tlv(0x30, Buffer.concat([tlv(0x02, modulus), tlv(0x02, Buffer.from([1, 0, 1]))]));
  const der = tlv(0x30, Buffer.concat([algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), key]))]));
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PUBLIC KEY-----`;
};
/** A real 2048-bit modulus (positive: DER writes it with a leading zero byte). */
const realModulus = () => Buffer.from(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }).n!, 'base64url');

/** CSRs made by the openssl CLI, as a user would. */
beforeAll(async () => {
  await withPrivateDir(undefined, async (dir) => {
    for (const [name, newkey] of [['rsa1024', 'rsa:1024'], ['rsa2048', 'rsa:2048'], ['ec', 'ec']] as const) {
      const out = path.join(dir, `${name}.csr`);
      const extra = name === 'ec' ? ['-pkeyopt', 'ec_paramgen_curve:P-256'] : [];
      await run('openssl', ['req', '-new', '-newkey', newkey, ...extra, '-nodes', '-keyout', path.join(dir, `${name}.key`), '-out', out, '-subj', '/CN=admin']);
      csrs[name] = await readFile(out, 'utf8');
    }
  });
}, 60_000);

describe('parsePublicKeyPem', () => {
  it('accepts EC P-256/P-384/P-521, RSA 2048+ and Ed25519', () => {
    for (const namedCurve of ['prime256v1', 'secp384r1', 'secp521r1']) {
      expect(parsePublicKeyPem(spki(generateKeyPairSync('ec', { namedCurve }).publicKey)).algorithm).toBe('ec');
    }
    expect(parsePublicKeyPem(spki(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey)).algorithm).toBe('rsa');
    expect(parsePublicKeyPem(spki(generateKeyPairSync('ed25519').publicKey)).algorithm).toBe('ed25519');
    // The same modulus written canonically (one leading zero: it is positive) is a key.
    expect(parsePublicKeyPem(rsaSpkiWith(Buffer.concat([Buffer.from([0]), realModulus()]))).algorithm).toBe('rsa');
  });

  it.each([
    ['RSA 1024', () => spki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), /at least 2048 bits, this one has 1024/],
    ['secp256k1', () => spki(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey), /EC curve secp256k1 is not supported/],
    ['Ed448', () => spki(generateKeyPairSync('ed448').publicKey), /ED448 keys are not supported/],
    ['X25519 (not a signing key)', () => spki(generateKeyPairSync('x25519').publicKey), /X25519 keys are not supported/],
    ['a private key', () => generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), /PRIVATE key/],
    ['garbage', () => 'hello', /expected exactly one PEM block/],
    // Keys that parse but protect nothing: a "signature" can be made without any secret.
    ['RSA with e = 1', () => rsaVariant((jwk) => ({ ...jwk, e: 'AQ' })), /protects nothing: its public exponent 1 is not an odd number of at least 65537/],
    ['RSA with an even exponent', () => rsaVariant((jwk) => ({ ...jwk, e: Buffer.from([1, 0, 2]).toString('base64url') })), /public exponent 65538/],
    ['RSA with an even modulus', () => rsaVariant((jwk) => ({ ...jwk, n: evenModulus(jwk.n!) })), /its modulus is even/],
    ['Ed25519 of small order (all zero)', () => edKey(Buffer.alloc(32)), /point of small order/],
    ['Ed25519 identity with the sign bit set', () => edKey(Buffer.from(`01${'00'.repeat(30)}80`, 'hex')), /point of small order/],
    ['a broken PEM body', () => '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', /does not contain a readable public key/],
    // OpenSSL reads these as the magnitude and signs for it; other software reads another number or refuses.
    ['RSA with a negative modulus', () => rsaSpkiWith(realModulus()), /not in canonical DER/],
    ['RSA with a zero-padded modulus', () => rsaSpkiWith(Buffer.concat([Buffer.from([0, 0]), realModulus()])), /not in canonical DER/],
  ])('refuses %s', (_name, pem, message) => {
    expect(() => parsePublicKeyPem(pem())).toThrow(message);
  });
});

describe('parseCsrPem', () => {
  it('accepts a CSR whose key is strong and whose signature verifies', async () => {
    expect((await parseCsrPem(csrs.rsa2048!)).algorithm).toBe('rsa');
    expect((await parseCsrPem(csrs.ec!)).algorithm).toBe('ec');
  });

  it('refuses a CSR with a weak key, naming the key size', async () => {
    await expect(parseCsrPem(csrs.rsa1024!)).rejects.toThrow(/CSR: RSA keys must have at least 2048 bits, this one has 1024/);
  });

  it('refuses a CSR altered after signing', async () => {
    const der = Buffer.from(csrs.ec!.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('admin'));
    der[at] = 'A'.charCodeAt(0); // CN=Admin: same structure, signature no longer matches
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(parseCsrPem(pem)).rejects.toThrow(/signature does not verify/);
  });

  it('refuses things that are not CSRs', async () => {
    await expect(parseCsrPem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----')).rejects.toThrow(/CERTIFICATE REQUEST/);
    await expect(parseCsrPem('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----')).rejects.toThrow(/not a readable PKCS#10/);
  });
});
