/**
 * The certificate the gateway logs in to a host with, for one session of one grant: a fresh
 * Ed25519 key and a certificate from the grant's tenant SSH CA (the CA the host trusts), naming
 * only the account the session runs as, valid a couple of minutes and never past the grant's end.
 * sshd checks a certificate's validity at login only, so a short one is enough for a session of
 * any length; the grant watch ends the session at the grant's end.
 *
 * The key and certificate exist only in the gateway's memory (the key's scratch file lives in a
 * private tmpfs directory for the signing): nobody is ever shown them. The certificate is recorded
 * against the grant like the grant's own (issued_credentials), so an early end revokes it (KRL) and
 * sshd's log of the login names the grant in its key id.
 */
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { createCaStore } from '../credentials/ca-store.js';
import { createIssuedCredentials } from '../credentials/issued.js';
import { createKrl } from '../credentials/krl.js';
import { createSshCertificates, type SshExtension } from '../credentials/ssh-certificates.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';

export interface GrantCertificateDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  clock: Clock;
  audit: AuditLog;
  scratchRoot?: string;
}

/** Enough to finish the login; sshd never looks at a certificate again once the session runs. */
export const LOGIN_CERTIFICATE_SECONDS = 120;
/** A little back, for a host clock slightly behind the gateway's. */
const CLOCK_SKEW_SECONDS = 60;

export interface LoginCertificate {
  /** OpenSSH private key (unencrypted): kept in memory for the login, never written elsewhere. */
  privateKey: string;
  /** `ssh-ed25519-cert-v01@openssh.com AAAA…` */
  certificate: string;
  serial: string;
  keyId: string;
  notAfter: Date;
}

/**
 * What an ssh-certificate target allows its certificates, kept in the gateway's too: a session
 * through the gateway is no wider than the person's own certificate.
 */
export interface LoginCertificateLimits {
  forceCommand?: string;
  /** The gateway's own address must be among them, or the host refuses the login. */
  sourceAddresses?: string[];
  /** The extensions the target allows; the gateway asks for permit-pty or permit-port-forwarding at most. */
  extensions: readonly SshExtension[];
}

export interface LoginCertificateRequest {
  tenantId: string;
  grantId: string;
  operatorId: string;
  /** The person's e-mail: goes into the key id beside the grant id. */
  subject: string;
  /** The account on the host; the certificate's only principal. */
  account: string;
  grantEnd: Date;
  limits?: LoginCertificateLimits;
  /** For a connection that carries port forwards (the policy allowed them): that extension instead of a terminal. */
  forwarding?: boolean;
}

export type GrantCertificates = ReturnType<typeof createGrantCertificates>;

export function createGrantCertificates(deps: GrantCertificateDeps) {
  const scratch = deps.scratchRoot ? { scratchRoot: deps.scratchRoot } : {};
  // No trust-change hook: issuing never changes what hosts trust, and the gateway never creates a CA.
  const cas = createCaStore({ db: deps.db, box: deps.secrets, clock: deps.clock, audit: deps.audit, ...scratch });
  const issued = createIssuedCredentials({ db: deps.db, clock: deps.clock, audit: deps.audit });
  const krl = createKrl({ cas, issued, clock: deps.clock, ...scratch });
  const ssh = createSshCertificates({ cas, issued, krl, clock: deps.clock, ...scratch });

  return {
    async issue(req: LoginCertificateRequest): Promise<LoginCertificate> {
      const now = deps.clock.now();
      const notAfter = new Date(Math.min(+req.grantEnd, +now + LOGIN_CERTIFICATE_SECONDS * 1000));
      const cert = await ssh.issueWithNewKey(
        {
          tenantId: req.tenantId,
          grantId: req.grantId,
          subject: `gateway:${req.subject}`,
          principals: [req.account],
          notBefore: new Date(+now - CLOCK_SKEW_SECONDS * 1000),
          notAfter,
          // A terminal, or port forwarding for a forward connection (the gateway checked the policy),
          // and only what the target allows its certificates.
          extensions: [req.forwarding ? ('permit-port-forwarding' as const) : ('permit-pty' as const)].filter((e) => !req.limits || req.limits.extensions.includes(e)),
          ...(req.limits?.forceCommand ? { forceCommand: req.limits.forceCommand } : {}),
          ...(req.limits?.sourceAddresses ? { sourceAddresses: req.limits.sourceAddresses } : {}),
        },
        { type: 'operator', id: req.operatorId },
      );
      return { privateKey: cert.privateKey, certificate: cert.certificate, serial: cert.serial, keyId: cert.keyId, notAfter: cert.notAfter };
    },
  };
}
