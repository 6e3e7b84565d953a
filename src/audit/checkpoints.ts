/**
 * Signed checkpoints: the head of one chain (log, tenant, position, hash, time) signed with
 * Ed25519 by a key kept outside the database. Whoever can write the database can recompute every
 * hash, but cannot sign: a checkpoint that no longer matches the chain shows the rewrite.
 *
 * The signed message is "timebox-audit-checkpoint-v1\n" + canonicalJson of the checkpoint without
 * its signature; scripts/verify-audit-export.mjs repeats this recipe.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './audit-log.js';

export interface Checkpoint {
  log_id: string;
  tenant_id: string | null;
  position: string;
  hash: string;
  /** ISO-8601 with milliseconds, UTC. */
  at: string;
  key_id: string;
}

export interface SignedCheckpoint extends Checkpoint {
  /** Ed25519 signature, base64. */
  signature: string;
}

const MESSAGE_PREFIX = 'timebox-audit-checkpoint-v1\n';

export function checkpointMessage(cp: Checkpoint): Buffer {
  const { log_id, tenant_id, position, hash, at, key_id } = cp;
  return Buffer.from(MESSAGE_PREFIX + canonicalJson({ log_id, tenant_id, position, hash, at, key_id }), 'utf8');
}

export function signCheckpoint(cp: Checkpoint, privateKey: KeyObject): SignedCheckpoint {
  return { ...cp, signature: sign(null, checkpointMessage(cp), privateKey).toString('base64') };
}

/** 16 hex characters of sha256 over the public key (SPKI DER): names the key in every checkpoint. */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export type SignatureVerdict = 'valid' | 'invalid' | 'unknown_key';

/** Checks a checkpoint against the trusted public keys (by key id). */
export function checkSignature(cp: SignedCheckpoint, trusted: ReadonlyMap<string, KeyObject>): SignatureVerdict {
  const key = trusted.get(cp.key_id);
  if (!key) return 'unknown_key';
  try {
    return verify(null, checkpointMessage(cp), key, Buffer.from(cp.signature, 'base64')) ? 'valid' : 'invalid';
  } catch {
    return 'invalid';
  }
}

/** A checkpoint as read back from a witness or an export line: anything else is not one. */
export const signedCheckpointSchema = z.object({
  log_id: z.string(),
  tenant_id: z.string().nullable(),
  position: z.string().regex(/^[1-9][0-9]*$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  at: z.string(),
  key_id: z.string(),
  signature: z.string(),
});
