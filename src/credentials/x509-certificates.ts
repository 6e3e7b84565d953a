/**
 * Short-lived X.509 client certificates (TLS client authentication) signed by the tenant's
 * X.509 CA: subject CN, optional e-mail/URI SANs, EKU clientAuth, validity = the grant's window.
 * Names always come from the request made to Timebox, never from a CSR's subject: the CSR only
 * proves possession of the key.
 */
import { webcrypto } from 'node:crypto';
import type { JsonGeneralName } from '@peculiar/x509';
import type { Clock } from '../core/clock.js';
import { badRequest, conflict } from '../core/errors.js';
import { X509_KEY, X509_SIGNING } from './ca-keys.js';
import { serialToHex } from './der.js';
import type { CaStore } from './ca-store.js';
import type { Crl, CrlDocument } from './crl.js';
import type { IssuedCredentials } from './issued.js';
import { spkiFingerprint } from './key-binding.js';
import { validateSubject, validityWindow } from './names.js';
import { generateX509KeyPair, parseCsrPem, parsePublicKeyPem } from './x509-keys.js';
import { SYSTEM, type Actor, type IssuedCredential, type RevocationReason } from './types.js';
import { x509Library } from './x509-library.js';

export interface X509CertificateRequest {
  tenantId: string;
  grantId: string | null;
  /** Subject common name (at most 64 characters, X.520). */
  subject: string;
  emails?: string[];
  uris?: string[];
  /** Exactly one of csr (PKCS#10 PEM) and publicKey (SPKI PEM). */
  csr?: string;
  publicKey?: string;
  notBefore: Date;
  notAfter: Date;
}

export interface IssuedX509Certificate {
  credentialId: string;
  /** Decimal, as stored; `serialHex` is how OpenSSL and CRLs show it. */
  serial: string;
  serialHex: string;
  certificate: string;
  caCertificate: string;
  caKeyId: string;
  /** The grant window. The certificate's notAfter is one second earlier (X.509 notAfter is inclusive). */
  notBefore: Date;
  notAfter: Date;
}

export interface X509CertificatesDeps {
  cas: CaStore;
  issued: IssuedCredentials;
  crl: Crl;
  clock: Clock;
}

export type X509Certificates = ReturnType<typeof createX509Certificates>;

export function createX509Certificates(deps: X509CertificatesDeps) {
  async function issue(req: X509CertificateRequest, actor: Actor = SYSTEM): Promise<IssuedX509Certificate> {
    if ((req.csr === undefined) === (req.publicKey === undefined)) {
      throw badRequest('give exactly one of csr (PKCS#10 PEM) or publicKey (PEM)');
    }
    const key = req.csr !== undefined ? await parseCsrPem(req.csr) : parsePublicKeyPem(req.publicKey!);
    const subject = validateSubject(req.subject, 64);
    const sans = alternativeNames(req.emails ?? [], req.uris ?? []);
    const window = validityWindow(req.notBefore, req.notAfter, deps.clock.now());
    const keyFingerprint = spkiFingerprint(key.spki);
    await deps.issued.ensureKeyIsTheirs(req.tenantId, keyFingerprint, subject);

    const signer = await deps.cas.signer(req.tenantId, 'x509', actor);
    if (signer.ca.notAfter && +window.notAfter > +signer.ca.notAfter) {
      throw conflict('the X.509 CA expires before this certificate would; rotate the CA');
    }
    const {
      AuthorityKeyIdentifierExtension,
      BasicConstraintsExtension,
      ExtendedKeyUsage,
      ExtendedKeyUsageExtension,
      KeyUsageFlags,
      KeyUsagesExtension,
      PemConverter,
      SubjectAlternativeNameExtension,
      SubjectKeyIdentifierExtension,
      X509Certificate,
      X509CertificateGenerator,
    } = await x509Library();
    const caCert = new X509Certificate(signer.ca.publicKey);
    const signingKey = await webcrypto.subtle.importKey('pkcs8', PemConverter.decode(signer.privateKey)[0]!, X509_KEY, false, ['sign']);
    const serialHex = serialToHex(signer.serial);
    const cert = await X509CertificateGenerator.create({
      serialNumber: serialHex,
      subject: [{ CN: [subject] }],
      issuer: caCert.subjectName,
      notBefore: window.notBefore,
      notAfter: new Date(+window.notAfter - 1000),
      publicKey: key.spki,
      signingKey,
      signingAlgorithm: X509_SIGNING,
      extensions: [
        new BasicConstraintsExtension(false, undefined, true),
        new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
        new ExtendedKeyUsageExtension([ExtendedKeyUsage.clientAuth], false),
        await SubjectKeyIdentifierExtension.create(key.spki),
        new AuthorityKeyIdentifierExtension(signer.ca.keyId),
        ...(sans.length ? [new SubjectAlternativeNameExtension(sans, false)] : []),
      ],
    });
    const principals = sans.map((n) => `${n.type}:${n.value}`);
    const credential = await deps.issued.record(
      { tenantId: req.tenantId, caId: signer.ca.id, kind: 'x509', serial: signer.serial, grantId: req.grantId, subject, principals, keyFingerprint, ...window },
      actor,
    );
    return {
      credentialId: credential.id,
      serial: signer.serial,
      serialHex,
      certificate: cert.toString('pem'),
      caCertificate: signer.ca.publicKey,
      caKeyId: signer.ca.keyId,
      ...window,
    };
  }

  return {
    issue,
    generateKeyPair: generateX509KeyPair,

    /** For users without a key: a fresh P-256 key and its certificate; the PKCS#8 key is returned once. */
    async issueWithNewKey(
      req: Omit<X509CertificateRequest, 'csr' | 'publicKey'>,
      actor: Actor = SYSTEM,
    ): Promise<IssuedX509Certificate & { privateKey: string }> {
      const pair = generateX509KeyPair();
      const cert = await issue({ ...req, publicKey: pair.publicKey }, actor);
      return { ...cert, privateKey: pair.privateKey };
    },

    /** Revokes early and returns the tenant's fresh CRLs (one per published CA). */
    async revoke(
      credentialId: string,
      reason: RevocationReason = 'privilegeWithdrawn',
      actor: Actor = SYSTEM,
    ): Promise<{ credential: IssuedCredential; crls: CrlDocument[] }> {
      const credential = await deps.issued.revoke(credentialId, reason, actor);
      return { credential, crls: await deps.crl.buildForTenant(credential.tenantId) };
    },

    /** CA certificates relying parties must trust now (PEM, newest first). */
    async trustedCaCertificates(tenantId: string): Promise<string[]> {
      return (await deps.cas.published(tenantId, 'x509')).map((ca) => ca.publicKey);
    },
  };
}

const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

function alternativeNames(emails: string[], uris: string[]): JsonGeneralName[] {
  if (emails.length + uris.length > 16) throw badRequest('at most 16 subject alternative names are allowed');
  const names: JsonGeneralName[] = [];
  for (const email of emails) {
    if (typeof email !== 'string' || email.length > 254 || !EMAIL.test(email)) {
      throw badRequest(`"${String(email).slice(0, 80)}" is not an e-mail address (ASCII local@domain)`);
    }
    names.push({ type: 'email', value: email });
  }
  for (const uri of uris) {
    let ok = typeof uri === 'string' && uri.length <= 2048 && /^[\x21-\x7e]+$/.test(uri);
    try {
      ok = ok && new URL(uri).protocol.length > 1;
    } catch {
      ok = false;
    }
    if (!ok) throw badRequest(`"${String(uri).slice(0, 80)}" is not an absolute ASCII URI`);
    names.push({ type: 'url', value: uri });
  }
  return names;
}
