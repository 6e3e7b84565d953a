/**
 * Target kind `ssh-certificate`: a grant signs the requester's OpenSSH public key (or a fresh
 * Ed25519 key) with the tenant's SSH CA, for the grant's principals, valid exactly for the grant.
 * Hosts trust the CA once (TrustedUserCAKeys) and refresh the KRL (RevokedKeys); nothing changes
 * on a host per grant. See docs/targets/ssh-certificates.md.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { invalid } from '../../core/errors.js';
import { checkTicketPattern, ticketMatches } from '../../core/safe-pattern.js';
import { validatePrincipals } from '../../credentials/names.js';
import { sshKeyFingerprint } from '../../credentials/key-binding.js';
import { parseSshPublicKey } from '../../credentials/ssh-public-key.js';
import { SSH_EXTENSIONS } from '../../credentials/ssh-certificates.js';
import type { ConnectorDefinition, ConnectorInstance, ConnectorServices, Entitlement } from '../contract.js';
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

const principalProblem = (p: string): string | null => {
  try {
    validatePrincipals([p]);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
};

function isCidr(value: string): boolean {
  const [addr = '', prefix, extra] = value.split('/');
  const version = isIP(addr);
  if (!version || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

export const sshCertificateConfigSchema = z
  .strictObject({
    /** Principals (account names on hosts) that may be granted. */
    principalsAllowed: z
      .array(z.string().superRefine((p, ctx) => {
        const why = principalProblem(p);
        if (why) ctx.addIssue({ code: 'custom', message: why });
      }))
      .max(500)
      .optional()
      .meta({ title: 'Principals that may be granted', description: 'One per line: the account names on hosts the certificates may name.' }),
    /** Or any principal matching this regular expression (whole name, anchored). */
    principalPattern: z
      .string()
      .min(1)
      .superRefine((p, ctx) => {
        const why = checkTicketPattern(p);
        if (why) ctx.addIssue({ code: 'custom', message: why.replace('the ticket pattern', 'the principal pattern') });
      })
      .optional()
      .meta({ title: 'Or a principal pattern (optional)', description: 'A regular expression any granted principal must match whole, e.g. app-[a-z]+.' }),
    /** Certificate extensions; only permit-pty unless the target asks for more. */
    extensions: z
      .array(z.enum(SSH_EXTENSIONS))
      .max(SSH_EXTENSIONS.length)
      .default(['permit-pty'])
      .meta({ title: 'What the certificates permit', description: 'permit-pty: an interactive terminal; the others forward ports, the agent or X11, or run ~/.ssh/rc.' }),
    /** Critical option source-address: client addresses or CIDRs allowed to use the certificates. */
    sourceAddresses: z
      .array(z.string().refine(isCidr, { error: 'must be an IP address or CIDR' }))
      .min(1)
      .max(32)
      .optional()
      .meta({ title: 'Source addresses (optional)', description: 'One per line: client addresses or CIDRs allowed to use the certificates.' }),
    /** Critical option force-command. */
    forceCommand: z
      .string()
      .min(1)
      .max(1024)
      .refine((c) => c.trim() !== '' && !/\p{Cc}/u.test(c), { error: 'must be a command of printable characters' })
      .optional()
      .meta({ title: 'Forced command (optional)', description: 'The only command the certificates may run.' }),
  })
  .refine((c) => (c.principalsAllowed?.length ?? 0) > 0 || c.principalPattern !== undefined, {
    error: 'list the principals that may be granted (principalsAllowed), or give a principal pattern (principalPattern), or both',
    path: ['principalsAllowed'],
  });
export type SshCertificateConfig = z.output<typeof sshCertificateConfigSchema>;

function allowed(config: SshCertificateConfig, principal: string): boolean {
  if (principalProblem(principal)) return false;
  if (config.principalsAllowed?.includes(principal)) return true;
  return config.principalPattern !== undefined && ticketMatches(config.principalPattern, principal);
}

function createInstance(config: SshCertificateConfig, services?: ConnectorServices): ConnectorInstance {
  const s = credentialServices('ssh-certificate', services);
  const listed = (): Entitlement[] =>
    (config.principalsAllowed ?? []).map((p) => ({ externalId: p, displayName: p, description: 'SSH principal (account name on hosts)' }));

  return {
    async check() {
      const items = [
        {
          name: 'principals',
          ok: true,
          message: [
            config.principalsAllowed?.length ? `allowed principals: ${config.principalsAllowed.join(', ')}` : '',
            config.principalPattern ? `principals matching /^(?:${config.principalPattern})$/` : '',
          ]
            .filter(Boolean)
            .join('; '),
        },
      ];
      try {
        // Proves ssh-keygen runs and the scratch directory works: what every signing needs.
        await s.engines.ssh.generateKeyPair('timebox-check');
        items.push({ name: 'ssh-keygen', ok: true, message: 'ssh-keygen signs in a private scratch directory' });
      } catch (err) {
        items.push({ name: 'ssh-keygen', ok: false, message: err instanceof Error ? err.message : String(err) });
      }
      return { ok: items.every((i) => i.ok), items };
    },

    async listEntitlements(_ctx, q) {
      const all = listed();
      // A pattern cannot be listed: a search for a name it allows answers with that name.
      if (q.search && !all.some((e) => e.externalId === q.search) && allowed(config, q.search)) {
        all.push({ externalId: q.search, displayName: q.search, description: 'SSH principal allowed by the target pattern' });
      }
      return pageOf(all, q);
    },

    async grant(_ctx, spec) {
      try {
        const c = grantContext(spec);
        const refused = spec.entitlements.filter((p) => !allowed(config, p));
        // The configuration may have changed since the request was checked.
        if (refused.length) throw invalid(`principal(s) ${refused.map((p) => JSON.stringify(p)).join(', ')} are not allowed on this target`);
        await supersedeEarlier(s, spec.grantId);
        const req = {
          tenantId: c.tenantId,
          grantId: spec.grantId,
          subject: c.subject,
          principals: spec.entitlements,
          notBefore: c.notBefore,
          notAfter: c.notAfter,
          extensions: config.extensions,
          ...(config.forceCommand !== undefined ? { forceCommand: config.forceCommand } : {}),
          ...(config.sourceAddresses !== undefined ? { sourceAddresses: config.sourceAddresses } : {}),
        };
        let privateKey: string | undefined;
        let cert;
        if (spec.subjectPublicKey !== undefined) cert = await s.engines.ssh.issue({ ...req, publicKey: spec.subjectPublicKey });
        else ({ privateKey, ...cert } = await s.engines.ssh.issueWithNewKey(req));
        return {
          handle: { credentialIds: [cert.credentialId], serial: cert.serial, keyId: cert.keyId, caKeyId: cert.caKeyId },
          credential: {
            username: spec.account.username,
            certificate: cert.certificate,
            caPublicKey: cert.caPublicKey,
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

export const sshCertificateConnector: ConnectorDefinition<SshCertificateConfig, 'ssh-certificate'> = {
  kind: 'ssh-certificate',
  label: 'SSH certificates',
  help: 'A grant signs an SSH certificate for the chosen principals, valid exactly for the grant.',
  accountNameRules: requesterAccountNameRules(128),
  configSchema: sshCertificateConfigSchema,
  capabilities: credentialCapabilities,
  accountName: 'requester',
  validateAccountName: requesterAccountName(128),
  validateEntitlementName: principalProblem,
  passwordPolicy: { length: 32 },
  async validateRequest(ask) {
    // The principals together, as they will be signed: one by one they cannot be too many.
    const principals = await problemOf(() => validatePrincipals(ask.entitlements));
    if (principals || ask.publicKey === undefined) return principals;
    return problemOf(() => parseSshPublicKey(ask.publicKey!));
  },
  subjectKeyFingerprint: async (publicKey) => sshKeyFingerprint(publicKey),
  create: createInstance,
};
