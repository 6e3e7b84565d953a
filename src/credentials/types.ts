/** Shared shapes of the credential engines (SSH certificates, X.509 certificates, tokens). */
import type { Kysely } from 'kysely';
import type { ActorType } from '../audit/types.js';
import type { Database } from '../store/schema.js';
import type { CaKind, CaStatus, CredentialsDb } from '../store/schema-credentials.js';

export type { CaKind, CaStatus };

export interface Actor {
  type: ActorType;
  id: string | null;
}

export const SYSTEM: Actor = { type: 'system', id: null };

/** A certificate authority as callers see it: never the private key. */
export interface CaInfo {
  id: string;
  tenantId: string;
  kind: CaKind;
  /** SSH: `SHA256:…` fingerprint; X.509: subject key identifier (hex); JWT: `kid`. */
  keyId: string;
  algorithm: string;
  /** SSH: authorized_keys line; X.509: CA certificate PEM; JWT: public JWK (JSON). */
  publicKey: string;
  status: CaStatus;
  createdAt: Date;
  /** The CA's own end of validity (X.509 CA certificate), null when it has none. */
  notAfter: Date | null;
  rotatedAt: Date | null;
  retiredAt: Date | null;
}

/** A published CA: relying parties must trust it now. */
export interface PublishedCa extends CaInfo {
  /**
   * Active CAs: null (open-ended). Retiring CAs: when their last live credential expires; after
   * that they are retired and no longer published.
   */
  trustedUntil: Date | null;
}

/** RFC 5280 reason codes that make sense for short-lived access credentials. */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface IssuedCredential {
  id: string;
  tenantId: string;
  caId: string;
  /** Decimal string (int8). */
  serial: string;
  grantId: string | null;
  subject: string;
  principals: string[];
  notBefore: Date;
  notAfter: Date;
  createdAt: Date;
  revokedAt: Date | null;
  revocationReason: RevocationReason | null;
}

/**
 * The store's Kysely instance seen with the credential tables. A cast, not a conversion: the
 * tables exist once migration 0002 ran; it disappears when the lead merges the schema types.
 */
export function credentialsDb(db: Kysely<Database>): CredentialsDb {
  return db as unknown as CredentialsDb;
}
