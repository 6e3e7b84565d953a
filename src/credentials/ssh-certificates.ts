/**
 * Short-lived OpenSSH user certificates signed by the tenant's SSH CA.
 *
 * Signing is done by ssh-keygen (the reference implementation of the certificate format) run with
 * an argv in a private scratch directory that holds the decrypted CA key only for the signing.
 * Validity is exactly the grant's window (second resolution, never past its end); the key id
 * `timebox:<grantId>:<subject>` and the serial appear in sshd's log of every login, which ties a
 * host-side session back to the grant.
 */
import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { badRequest } from '../core/errors.js';
import type { CaStore } from './ca-store.js';
import type { IssuedCredentials } from './issued.js';
import type { Krl } from './krl.js';
import { validatePrincipals, validateSubject, validityWindow } from './names.js';
import { sshKeygen, withPrivateDir, writePrivateFile } from './private-dir.js';
import { parseSshPublicKey } from './ssh-public-key.js';
import { SYSTEM, type Actor, type IssuedCredential, type RevocationReason } from './types.js';

export const SSH_EXTENSIONS = [
  'permit-pty',
  'permit-port-forwarding',
  'permit-agent-forwarding',
  'permit-X11-forwarding',
  'permit-user-rc',
] as const;
export type SshExtension = (typeof SSH_EXTENSIONS)[number];

export interface SshCertificateRequest {
  tenantId: string;
  grantId: string | null;
  /** Who it is for (operator email or name): goes into the key id. */
  subject: string;
  /** The user's OpenSSH public key line (`ssh-ed25519 AAAA… comment`). */
  publicKey: string;
  /** Account names the certificate may log in as. */
  principals: string[];
  notBefore: Date;
  notAfter: Date;
  /** Default ['permit-pty']: no forwarding unless a policy asks for it. */
  extensions?: SshExtension[];
  /** Critical option force-command. */
  forceCommand?: string;
  /** Critical option source-address: client addresses/CIDRs allowed to use the certificate. */
  sourceAddresses?: string[];
}

export interface SshCertificate {
  credentialId: string;
  serial: string;
  keyId: string;
  /** The certificate line, to save as `KEY-cert.pub` next to the private key. */
  certificate: string;
  caKeyId: string;
  caPublicKey: string;
  principals: string[];
  notBefore: Date;
  notAfter: Date;
}

export interface SshKeyPair {
  /** OpenSSH private key (unencrypted). Returned once; Timebox keeps no copy. */
  privateKey: string;
  publicKey: string;
}

export interface SshCertificatesDeps {
  cas: CaStore;
  issued: IssuedCredentials;
  krl: Krl;
  clock: Clock;
  scratchRoot?: string;
}

export type SshCertificates = ReturnType<typeof createSshCertificates>;

export function createSshCertificates(deps: SshCertificatesDeps) {
  async function issue(req: SshCertificateRequest, actor: Actor = SYSTEM): Promise<SshCertificate> {
    // Validate everything before touching the CA, so bad input costs no serial and no audit row.
    const key = parseSshPublicKey(req.publicKey);
    const principals = validatePrincipals(req.principals);
    const subject = validateSubject(req.subject);
    const window = validityWindow(req.notBefore, req.notAfter, deps.clock.now());
    const options = certificateOptions(req);
    const keyId = `timebox:${req.grantId ?? 'none'}:${subject}`;
    const keyFingerprint = `ssh:${key.fingerprint}`;
    await deps.issued.ensureKeyIsTheirs(req.tenantId, keyFingerprint, subject);

    const signer = await deps.cas.signer(req.tenantId, 'ssh', actor);
    const certificate = await withPrivateDir(deps.scratchRoot, async (dir) => {
      const caFile = path.join(dir, 'ca');
      const userFile = path.join(dir, 'user.pub');
      await writePrivateFile(caFile, signer.privateKey);
      await writePrivateFile(userFile, `${key.line}\n`);
      const validity = `0x${(+window.notBefore / 1000).toString(16)}:0x${(+window.notAfter / 1000).toString(16)}`;
      await sshKeygen([
        '-q',
        ...['-s', caFile, '-I', keyId, '-n', principals.join(','), '-V', validity, '-z', signer.serial],
        ...options,
        userFile,
      ]);
      return (await readFile(path.join(dir, 'user-cert.pub'), 'utf8')).trim();
    });
    const credential = await deps.issued.record(
      { tenantId: req.tenantId, caId: signer.ca.id, kind: 'ssh', serial: signer.serial, grantId: req.grantId, subject, principals, keyFingerprint, ...window },
      actor,
    );
    return {
      credentialId: credential.id,
      serial: signer.serial,
      keyId,
      certificate,
      caKeyId: signer.ca.keyId,
      caPublicKey: signer.ca.publicKey,
      principals,
      ...window,
    };
  }

  async function generateKeyPair(comment = 'timebox'): Promise<SshKeyPair> {
    if (comment.length > 128 || /\p{Cc}/u.test(comment)) throw badRequest('the key comment must be at most 128 printable characters');
    return withPrivateDir(deps.scratchRoot, async (dir) => {
      const file = path.join(dir, 'id_ed25519');
      await sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
      return { privateKey: await readFile(file, 'utf8'), publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() };
    });
  }

  return {
    issue,
    generateKeyPair,

    /** For users without a key: a fresh Ed25519 key pair and its certificate; the private key is returned once. */
    async issueWithNewKey(req: Omit<SshCertificateRequest, 'publicKey'>, actor: Actor = SYSTEM): Promise<SshCertificate & SshKeyPair> {
      const pair = await generateKeyPair(`timebox:${req.grantId ?? 'none'}`);
      const cert = await issue({ ...req, publicKey: pair.publicKey }, actor);
      return { ...cert, ...pair };
    },

    /** Revokes early and returns the rebuilt KRL, ready to be pushed to hosts (RevokedKeys). */
    async revoke(
      credentialId: string,
      reason: RevocationReason = 'privilegeWithdrawn',
      actor: Actor = SYSTEM,
    ): Promise<{ credential: IssuedCredential; krl: Buffer }> {
      const credential = await deps.issued.revoke(credentialId, reason, actor);
      return { credential, krl: await deps.krl.build(credential.tenantId) };
    },

    /** Content for hosts' TrustedUserCAKeys: every published SSH CA of the tenant, one per line. */
    async trustedCaKeys(tenantId: string): Promise<string> {
      const cas = await deps.cas.published(tenantId, 'ssh');
      return cas.map((ca) => `${ca.publicKey}\n`).join('');
    },
  };
}

/** `-O clear` first: ssh-keygen's defaults would add forwarding and user-rc permissions. */
function certificateOptions(req: SshCertificateRequest): string[] {
  const extensions = req.extensions ?? ['permit-pty'];
  const out = ['-O', 'clear'];
  for (const ext of new Set(extensions)) {
    if (!(SSH_EXTENSIONS as readonly string[]).includes(ext)) {
      throw badRequest(`unknown SSH certificate extension "${String(ext).slice(0, 40)}"; allowed: ${SSH_EXTENSIONS.join(', ')}`);
    }
    out.push('-O', ext);
  }
  if (req.forceCommand !== undefined) {
    const cmd = req.forceCommand;
    if (cmd.trim() === '' || cmd.length > 1024 || /\p{Cc}/u.test(cmd)) {
      throw badRequest('force-command must be a non-empty command of at most 1024 printable characters');
    }
    out.push('-O', `force-command=${cmd}`);
  }
  if (req.sourceAddresses !== undefined) {
    if (req.sourceAddresses.length === 0) throw badRequest('source-address needs at least one address');
    for (const a of req.sourceAddresses) {
      if (!isCidr(a)) throw badRequest(`source-address "${String(a).slice(0, 60)}" is not an IP address or CIDR`);
    }
    out.push('-O', `source-address=${req.sourceAddresses.join(',')}`);
  }
  return out;
}

function isCidr(value: string): boolean {
  if (typeof value !== 'string') return false;
  const [addr = '', prefix, extra] = value.split('/');
  const version = isIP(addr);
  if (!version || extra !== undefined) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (version === 4 ? 32 : 128);
}
