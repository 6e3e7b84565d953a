/**
 * X.509 certificate revocation lists, one per published CA, signed by that CA.
 *
 * nextUpdate is short (1 h by default): relying parties that enforce it (OpenSSL does) refuse every
 * certificate once their copy is stale, so a lost CRL feed fails closed instead of leaving
 * revoked certificates usable. They must fetch a fresh CRL well within that hour.
 */
import { webcrypto } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { notFound } from '../core/errors.js';
import { X509_KEY, X509_SIGNING } from './ca-keys.js';
import { derInteger, serialToHex } from './der.js';
import type { CaStore } from './ca-store.js';
import type { IssuedCredentials } from './issued.js';
import type { RevocationReason } from './types.js';
import { x509Library } from './x509-library.js';

export interface CrlDocument {
  caId: string;
  caKeyId: string;
  der: Buffer;
  pem: string;
  thisUpdate: Date;
  nextUpdate: Date;
}

export interface CrlDeps {
  cas: CaStore;
  issued: IssuedCredentials;
  clock: Clock;
  /** Default 3600. */
  nextUpdateSeconds?: number;
}

const CRL_NUMBER_OID = '2.5.29.20';

export type Crl = ReturnType<typeof createCrl>;

export function createCrl(deps: CrlDeps) {
  const lifetime = (deps.nextUpdateSeconds ?? 3600) * 1000;

  async function build(caId: string): Promise<CrlDocument> {
    const { AuthorityKeyIdentifierExtension, Extension, PemConverter, X509Certificate, X509CrlGenerator, X509CrlReason } = await x509Library();
    const ca = await deps.cas.get(caId);
    if (!ca || ca.kind !== 'x509') throw notFound('X.509 certificate authority');
    const caCert = new X509Certificate(ca.publicKey);
    const now = new Date(Math.floor(+deps.clock.now() / 1000) * 1000);
    const nextUpdate = new Date(+now + lifetime);
    const revoked = await deps.issued.revokedForCa(ca.id);
    const der = PemConverter.decode(await deps.cas.privateKey(ca.id))[0]!;
    const signingKey = await webcrypto.subtle.importKey('pkcs8', der, X509_KEY, false, ['sign']);
    const crl = await X509CrlGenerator.create({
      issuer: caCert.subjectName,
      thisUpdate: now,
      nextUpdate,
      signingKey,
      signingAlgorithm: X509_SIGNING,
      extensions: [
        new AuthorityKeyIdentifierExtension(ca.keyId),
        // RFC 5280 requires a CRL number that only grows: milliseconds since the epoch do.
        new Extension(CRL_NUMBER_OID, false, derInteger(BigInt(+deps.clock.now()))),
      ],
      entries: revoked.map((r) => ({
        serialNumber: serialToHex(r.serial),
        revocationDate: r.revokedAt!,
        reason: X509CrlReason[(r.revocationReason ?? 'unspecified') as RevocationReason],
      })),
    });
    const bytes = Buffer.from(crl.rawData);
    // OpenSSL (and so Node's tls `crl` option) reads only the 'X509 CRL' PEM label, not the library's 'CRL'.
    const pem = PemConverter.encode(bytes, 'X509 CRL');
    return { caId: ca.id, caKeyId: ca.keyId, der: bytes, pem, thisUpdate: now, nextUpdate };
  }

  return {
    build,
    /** CRLs of every published X.509 CA of the tenant: relying parties need one per trusted CA. */
    async buildForTenant(tenantId: string): Promise<CrlDocument[]> {
      const cas = await deps.cas.published(tenantId, 'x509');
      return Promise.all(cas.map((ca) => build(ca.id)));
    },
  };
}
