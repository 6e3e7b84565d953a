/**
 * One public key, one person, per tenant. A certificate binds a key to the person who asked; if
 * a second person could have the same key certified, whoever holds the private key would act
 * under both names, and the audit would name the wrong one. So a key certified once for a
 * person (revoked or expired since, too) is refused for anybody else in that tenant.
 *
 * The check runs twice: when the request is made (a clear refusal before approvals) and, under a
 * per-key lock, in the transaction that records the certificate (two people racing with the
 * same key cannot both win).
 */
import { createHash } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { conflict } from '../core/errors.js';
import type { CredentialsDatabase, CredentialsDb } from '../store/schema-credentials.js';
import { parseSshPublicKey } from './ssh-public-key.js';

/** First key of the two-key advisory lock space: "public key". */
const KEY_LOCK_SPACE = 0x7442_504b; // 'tBPK'

export const sshKeyFingerprint = (line: string) => `ssh:${parseSshPublicKey(line).fingerprint}`;
export const spkiFingerprint = (spki: Buffer) => `x509:SHA256:${createHash('sha256').update(spki).digest('base64').replace(/=+$/, '')}`;

export const keyTaken = () =>
  conflict('this public key is already certified for another person; everyone signs in with their own key (e.g. ssh-keygen -t ed25519)', {
    reason: 'key_certified_for_another_person',
  });

/** Refuses when `fingerprint` was certified in the tenant for anyone but `subject`. */
export async function ensureKeyIsTheirs(db: CredentialsDb | Transaction<CredentialsDatabase>, tenantId: string, fingerprint: string, subject: string): Promise<void> {
  const other = await db
    .selectFrom('issued_credentials')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('key_fingerprint', '=', fingerprint)
    .where('subject', '<>', subject)
    .limit(1)
    .executeTakeFirst();
  if (other) throw keyTaken();
}

/** Serialises the recording of certificates for one key (held to commit). */
export async function lockKey(tx: Transaction<CredentialsDatabase>, tenantId: string, fingerprint: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${KEY_LOCK_SPACE}::int, hashtext(${`${tenantId}:${fingerprint}`}))`.execute(tx);
}
