/**
 * Who is knocking: a gateway certificate (checked against the gateway's CA, then its key's
 * signature over the session) or a public key the person registered in their profile. Nothing
 * else is offered: no passwords, no keyboard-interactive.
 */
import type { Kysely } from 'kysely';
import ssh2, { type PublicKeyAuthContext } from 'ssh2';
import { sshFingerprint } from '../credentials/ssh-public-key.js';
import type { Database } from '../store/schema.js';
import { gatewayDb } from '../store/schema-gateway.js';
import { CERTIFICATE_BACKDATE_SECONDS } from './operator-certificates.js';
import { ED25519_CERT, checkOperatorCertificate, parseEd25519Certificate, verifyEd25519, type CertificateProblem } from './ssh-certificate.js';

export type IdentifyResult =
  /** The client only asked whether this key would do; it signs next. */
  | { kind: 'would_accept' }
  | {
      kind: 'identified';
      operatorId: string;
      via: 'certificate' | 'registered_key';
      credential: string;
      /** The registered key's (null for a certificate). */
      fingerprint: string | null;
      /** When the gateway certificate was issued (null for a registered key). */
      issuedAt: Date | null;
    }
  | { kind: 'refused'; reason: CertificateProblem | 'unknown_key' | 'bad_signature' | 'unsupported_key'; operatorId: string | null };

export async function identify(db: Kysely<Database>, caKeyBlob: Buffer, ctx: Pick<PublicKeyAuthContext, 'key' | 'signature' | 'blob' | 'hashAlgo'>, nowSeconds: number): Promise<IdentifyResult> {
  if (ctx.key.algo === ED25519_CERT) {
    let cert;
    try {
      cert = parseEd25519Certificate(ctx.key.data);
    } catch {
      return { kind: 'refused', reason: 'unsupported_key', operatorId: null };
    }
    const checked = checkOperatorCertificate(cert, caKeyBlob, nowSeconds);
    if ('problem' in checked) return { kind: 'refused', reason: checked.problem, operatorId: null };
    if (!ctx.signature || !ctx.blob) return { kind: 'would_accept' };
    // Someone else's certificate without its private key fails here.
    if (!verifyEd25519(cert.rawKey, ctx.blob, ctx.signature)) return { kind: 'refused', reason: 'bad_signature', operatorId: checked.operatorId };
    // Issued a minute after its start (operator-certificates.ts dates it back for slow clocks).
    const issuedAt = new Date((Number(cert.validAfter) + CERTIFICATE_BACKDATE_SECONDS) * 1000);
    return { kind: 'identified', operatorId: checked.operatorId, via: 'certificate', credential: `certificate serial ${cert.serial}`, fingerprint: null, issuedAt };
  }
  if (ctx.key.algo.endsWith('-cert-v01@openssh.com')) return { kind: 'refused', reason: 'unsupported_key', operatorId: null };
  const fingerprint = sshFingerprint(ctx.key.data);
  const row = await gatewayDb(db).selectFrom('operator_ssh_keys').select(['operator_id', 'public_key']).where('fingerprint', '=', fingerprint).executeTakeFirst();
  if (!row) return { kind: 'refused', reason: 'unknown_key', operatorId: null };
  if (!ctx.signature || !ctx.blob) return { kind: 'would_accept' };
  const parsed = ssh2.utils.parseKey(row.public_key);
  if (parsed instanceof Error) return { kind: 'refused', reason: 'unsupported_key', operatorId: row.operator_id };
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  if (!key.getPublicSSH().equals(ctx.key.data) || key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
    return { kind: 'refused', reason: 'bad_signature', operatorId: row.operator_id };
  }
  return { kind: 'identified', operatorId: row.operator_id, via: 'registered_key', credential: `registered key ${fingerprint}`, fingerprint, issuedAt: null };
}
