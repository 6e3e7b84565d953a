/**
 * Target kind `x509-certificate`: a grant issues a TLS client certificate from the tenant's X.509
 * CA, valid exactly for the grant. The subject is `CN=<requester e-mail>`; each granted role
 * (entitlement) becomes a URI subject alternative name `<roleUriPrefix><role>` (default
 * `urn:timebox:role:<role>`), and the requester's e-mail an e-mail SAN. Relying parties (mTLS
 * servers, proxies) trust the CA and the CRL, and authorise on those URIs. The key comes from the
 * requester's CSR or PEM public key, or Timebox generates one and returns it once.
 */
import { z } from 'zod';
import { refused } from '../../core/errors.js';
import { spkiFingerprint } from '../../credentials/key-binding.js';
import { parseCsrPem, parsePublicKeyPem } from '../../credentials/x509-keys.js';
import type { ConnectorDefinition, ConnectorInstance, ConnectorServices } from '../contract.js';
import {
  asTargetError,
  credentialCapabilities,
  credentialServices,
  grantContext,
  pageOf,
  problemOf,
  requesterAccountName,
  requesterAccountNameRules,
  revokeGrantCredentials,
  supersedeEarlier,
  verifyGrantCredentials,
} from './shared.js';

/** URI-safe without percent-encoding (RFC 3986 unreserved characters). */
const ROLE = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$/;
const roleProblem = (name: string): string | null =>
  ROLE.test(name) ? null : `role ${JSON.stringify(String(name).slice(0, 80))} must be 1 to 64 letters, digits or . _ ~ - (starting with a letter or digit)`;

function absoluteUriPrefix(prefix: string): boolean {
  if (!/^[\x21-\x7e]+$/.test(prefix)) return false;
  try {
    return new URL(`${prefix}role`).protocol.length > 1;
  } catch {
    return false;
  }
}

export const x509CertificateConfigSchema = z.strictObject({
  /** Roles that may be granted; each becomes a URI SAN of the certificate. */
  roles: z
    .array(z.string().superRefine((r, ctx) => {
      const why = roleProblem(r);
      if (why) ctx.addIssue({ code: 'custom', message: why });
    }))
    .min(1)
    .max(100)
    .meta({ title: 'Roles that may be granted', description: 'One per line; each becomes a URI in the certificate.' }),
  /** The role URIs are this prefix plus the role name. */
  roleUriPrefix: z
    .string()
    .max(200)
    .refine(absoluteUriPrefix, { error: 'must start an absolute ASCII URI, e.g. urn:timebox:role: or https://example.com/roles/' })
    .default('urn:timebox:role:')
    .meta({ title: 'Role URI prefix', description: 'The role URIs are this prefix plus the role name.' }),
  /** Put the requester's e-mail address in an e-mail SAN too. */
  emailSan: z.boolean().default(true).meta({ title: 'Put the requester’s e-mail address in the certificate' }),
});
export type X509CertificateConfig = z.output<typeof x509CertificateConfigSchema>;

const isCsr = (pem: string) => /-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(pem);

function createInstance(config: X509CertificateConfig, services?: ConnectorServices): ConnectorInstance {
  const s = credentialServices('x509-certificate', services);
  return {
    async check() {
      return {
        ok: true,
        items: [{ name: 'roles', ok: true, message: `roles become URI SANs: ${config.roles.map((r) => config.roleUriPrefix + r).join(', ')}` }],
      };
    },

    async listEntitlements(_ctx, q) {
      return pageOf(
        config.roles.map((r) => ({ externalId: r, displayName: r, description: `URI SAN ${config.roleUriPrefix}${r}` })),
        q,
      );
    },

    async grant(_ctx, spec) {
      try {
        const c = grantContext(spec);
        // The configuration may have changed since the request was checked: nothing is issued for a role it no longer offers.
        const missing = spec.entitlements.filter((r) => !config.roles.includes(r));
        if (missing.length) throw refused('entitlement_missing', `role(s) ${missing.map((r) => JSON.stringify(r)).join(', ')} are not offered by this target`);
        await supersedeEarlier(s, spec.grantId);
        const req = {
          tenantId: c.tenantId,
          grantId: spec.grantId,
          subject: c.subject,
          emails: config.emailSan ? [c.subject] : [],
          uris: spec.entitlements.map((r) => config.roleUriPrefix + r),
          notBefore: c.notBefore,
          notAfter: c.notAfter,
        };
        const key = spec.subjectPublicKey;
        let privateKey: string | undefined;
        let cert;
        if (key !== undefined) cert = await s.engines.x509.issue({ ...req, ...(isCsr(key) ? { csr: key } : { publicKey: key }) });
        else ({ privateKey, ...cert } = await s.engines.x509.issueWithNewKey(req));
        return {
          handle: { credentialIds: [cert.credentialId], serial: cert.serial, caKeyId: cert.caKeyId },
          credential: {
            username: spec.account.username,
            certificate: cert.certificate,
            caPublicKey: cert.caCertificate,
            ...(privateKey !== undefined ? { privateKey } : {}),
          },
        };
      } catch (err) {
        throw asTargetError(err);
      }
    },

    revoke: (_ctx, spec) => revokeGrantCredentials(s, spec),
    verify: (_ctx, spec) => verifyGrantCredentials(s, spec),
    async close() {},
  };
}

export const x509CertificateConnector: ConnectorDefinition<X509CertificateConfig, 'x509-certificate'> = {
  kind: 'x509-certificate',
  label: 'X.509 client certificates',
  help: 'A grant issues a TLS client certificate carrying the chosen roles, valid exactly for the grant.',
  accountNameRules: requesterAccountNameRules(64),
  configSchema: x509CertificateConfigSchema,
  capabilities: credentialCapabilities,
  accountName: 'requester',
  // The e-mail address is the certificate's CN, which X.520 limits to 64 characters.
  validateAccountName: requesterAccountName(64),
  validateEntitlementName: roleProblem,
  passwordPolicy: { length: 32 },
  async validateRequest(ask) {
    const key = ask.publicKey;
    if (key === undefined) return null;
    return problemOf(() => (isCsr(key) ? parseCsrPem(key) : parsePublicKeyPem(key)));
  },
  subjectKeyFingerprint: async (publicKey) => spkiFingerprint((isCsr(publicKey) ? await parseCsrPem(publicKey) : parsePublicKeyPem(publicKey)).spki),
  create: createInstance,
};
