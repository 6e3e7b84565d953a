/**
 * Short-lived SSH user certificates that let an operator pass the gateway (`timebox ssh` asks for
 * one per connection). Signed by the gateway's own CA key, which no host trusts: a gateway
 * certificate opens nothing but the gateway, and the gateway still checks a grant per target.
 * The principal `timebox-operator:<id>` and key id `timebox-gateway:<id>:<email>` name the person.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { badRequest } from '../core/errors.js';
import { sshKeygen, withPrivateDir, writePrivateFile } from '../credentials/private-dir.js';
import { parseSshPublicKey } from '../credentials/ssh-public-key.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import { gatewayKey } from './gateway-keys.js';

export interface OperatorCertificateDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  clock: Clock;
  audit: AuditLog;
  scratchRoot?: string;
}

export interface OperatorCertificate {
  certificate: string;
  serial: string;
  keyId: string;
  notAfter: Date;
}

/** Enough to connect; the session itself is bounded by the grant, not by the certificate. */
export const CERTIFICATE_SECONDS = 300;
export const CERTIFICATE_BACKDATE_SECONDS = 60;

export async function issueOperatorCertificate(
  deps: OperatorCertificateDeps,
  operator: { id: string; email: string },
  publicKey: string,
): Promise<OperatorCertificate> {
  const key = parseSshPublicKey(publicKey);
  if (key.type !== 'ssh-ed25519') throw badRequest('the gateway certifies ssh-ed25519 keys only (ssh-keygen -t ed25519)');
  const ca = await gatewayKey(deps, 'user_ca');
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  // A minute back for clocks a little behind the gateway's.
  const from = now - CERTIFICATE_BACKDATE_SECONDS;
  const to = now + CERTIFICATE_SECONDS;
  const serial = (randomBytes(8).readBigUInt64BE() >> 1n).toString();
  const keyId = `timebox-gateway:${operator.id}:${operator.email}`;
  const certificate = await withPrivateDir(deps.scratchRoot, async (dir) => {
    const caFile = path.join(dir, 'ca');
    const userFile = path.join(dir, 'user.pub');
    await writePrivateFile(caFile, ca.privateKey);
    await writePrivateFile(userFile, `${key.line}\n`);
    await sshKeygen([
      '-q',
      ...['-s', caFile, '-I', keyId, '-n', `timebox-operator:${operator.id}`],
      ...['-V', `0x${from.toString(16)}:0x${to.toString(16)}`, '-z', serial],
      // No forwarding and no user rc: the gateway refuses them anyway.
      ...['-O', 'clear', '-O', 'permit-pty'],
      userFile,
    ]);
    return (await readFile(path.join(dir, 'user-cert.pub'), 'utf8')).trim();
  });
  const notAfter = new Date(to * 1000);
  await deps.audit.append(deps.db, {
    tenantId: null,
    actor: { type: 'operator', id: operator.id },
    action: 'gateway.certificate_issued',
    subject: { type: 'operator', id: operator.id },
    after: { serial, keyFingerprint: key.fingerprint, notAfter: notAfter.toISOString() },
  });
  return { certificate, serial, keyId, notAfter };
}
