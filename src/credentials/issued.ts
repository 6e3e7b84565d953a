/**
 * The record of every credential a CA issued. Revocation lives here; KRLs, CRLs and token
 * introspection are all derived from these rows, so revoking is one UPDATE whatever the kind.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { badRequest, conflict, notFound } from '../core/errors.js';
import type { Database } from '../store/schema.js';
import type { CredentialsDatabase, IssuedCredentialRow } from '../store/schema-credentials.js';
import { ensureKeyIsTheirs, lockKey } from './key-binding.js';
import { trustSignals, type TrustChangeHook } from './trust-signal.js';
import {
  REVOCATION_REASONS,
  SYSTEM,
  credentialsDb,
  type Actor,
  type CaKind,
  type IssuedCredential,
  type RevocationReason,
} from './types.js';

export interface IssuedDeps {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditLog;
  newId?: () => string;
  /** Told (inside the transaction) when an early revocation changes what hosts must refuse. */
  onTrustChange?: TrustChangeHook;
}

export interface NewCredential {
  id?: string;
  tenantId: string;
  caId: string;
  kind: CaKind;
  serial: string;
  grantId: string | null;
  subject: string;
  principals: string[];
  notBefore: Date;
  notAfter: Date;
  /** The certified key (key-binding.ts); absent for tokens, which certify no key. */
  keyFingerprint?: string;
}

/**
 * Revoked credentials stay in KRLs/CRLs for this long after they expire, so a host whose clock
 * runs late still refuses them; after that the list no longer needs them and stays small.
 */
export const REVOKED_LISTING_GRACE_MS = 24 * 3600_000;

export type IssuedCredentials = ReturnType<typeof createIssuedCredentials>;

export function createIssuedCredentials(deps: IssuedDeps) {
  const db = credentialsDb(deps.db);
  const newId = deps.newId ?? randomUUID;
  const audit = (tx: Transaction<CredentialsDatabase>, event: Parameters<AuditLog['append']>[1]) =>
    deps.audit.append(tx as unknown as Transaction<Database>, event);

  async function revokeRows(
    rows: IssuedCredentialRow[],
    reason: RevocationReason,
    actor: Actor,
    tx: Transaction<CredentialsDatabase>,
    signals: ReturnType<typeof trustSignals>,
  ) {
    const now = deps.clock.now();
    const out: IssuedCredential[] = [];
    for (const row of rows) {
      if (row.revoked_at) {
        out.push(toCredential(row));
        continue;
      }
      const updated = await tx
        .updateTable('issued_credentials')
        .set({ revoked_at: now, revocation_reason: reason })
        .where('id', '=', row.id)
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirstOrThrow();
      await audit(tx, {
        tenantId: row.tenant_id,
        actor,
        action: 'credential.revoked',
        subject: { type: 'credential', id: row.id },
        reason,
        after: { caId: row.ca_id, serial: row.serial, grantId: row.grant_id, subject: row.subject },
      });
      if (deps.onTrustChange) {
        // Hosts must refuse it now (a KRL or CRL changed): whoever listens is told in this transaction.
        const ca = await tx.selectFrom('certificate_authorities').select('kind').where('id', '=', row.ca_id).executeTakeFirstOrThrow();
        await signals.raise(tx as unknown as Transaction<Database>, { tenantId: row.tenant_id, kind: ca.kind });
      }
      out.push(toCredential(updated));
    }
    return out;
  }

  return {
    /**
     * Records a signed credential before it is handed out, so nothing usable exists that cannot
     * be revoked. Refuses when the CA was retired meanwhile (the credential would not be trusted).
     */
    async record(c: NewCredential, actor: Actor = SYSTEM): Promise<IssuedCredential> {
      const now = deps.clock.now();
      return db.transaction().execute(async (tx) => {
        // FOR SHARE: concurrent issuers proceed together; retireDrained (FOR UPDATE) waits for us.
        const ca = await tx
          .selectFrom('certificate_authorities')
          .select(['status', 'tenant_id'])
          .where('id', '=', c.caId)
          .forShare()
          .executeTakeFirst();
        if (!ca || ca.tenant_id !== c.tenantId) throw notFound('certificate authority');
        if (ca.status === 'retired') throw conflict('the CA was retired while signing; try again');
        if (c.keyFingerprint !== undefined) {
          await lockKey(tx, c.tenantId, c.keyFingerprint);
          await ensureKeyIsTheirs(tx, c.tenantId, c.keyFingerprint, c.subject);
        }
        const row = await tx
          .insertInto('issued_credentials')
          .values({
            id: c.id ?? newId(),
            tenant_id: c.tenantId,
            ca_id: c.caId,
            serial: c.serial,
            grant_id: c.grantId,
            subject: c.subject,
            principals: c.principals,
            not_before: c.notBefore,
            not_after: c.notAfter,
            created_at: now,
            key_fingerprint: c.keyFingerprint ?? null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await audit(tx, {
          tenantId: c.tenantId,
          actor,
          action: 'credential.issued',
          subject: { type: 'credential', id: row.id },
          after: {
            kind: c.kind,
            caId: c.caId,
            serial: c.serial,
            grantId: c.grantId,
            subject: c.subject,
            principals: c.principals,
            notBefore: c.notBefore.toISOString(),
            notAfter: c.notAfter.toISOString(),
          },
        });
        return toCredential(row);
      });
    },

    /** Refuses a key certified for another person, before anything is signed (see key-binding.ts). */
    ensureKeyIsTheirs: (tenantId: string, keyFingerprint: string, subject: string) => ensureKeyIsTheirs(db, tenantId, keyFingerprint, subject),

    async get(id: string): Promise<IssuedCredential | null> {
      const row = await db.selectFrom('issued_credentials').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toCredential(row) : null;
    },

    async listForGrant(grantId: string): Promise<IssuedCredential[]> {
      const rows = await db.selectFrom('issued_credentials').selectAll().where('grant_id', '=', grantId).orderBy('created_at').execute();
      return rows.map(toCredential);
    },

    /** Revokes one credential early; idempotent (a second call returns the first revocation). */
    async revoke(id: string, reason: RevocationReason = 'privilegeWithdrawn', actor: Actor = SYSTEM): Promise<IssuedCredential> {
      checkReason(reason);
      const signals = trustSignals(deps.onTrustChange);
      const revoked = await db.transaction().execute(async (tx) => {
        const row = await tx.selectFrom('issued_credentials').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
        if (!row) throw notFound('credential');
        return (await revokeRows([row], reason, actor, tx, signals))[0]!;
      });
      signals.flush();
      return revoked;
    },

    /** Revokes every credential issued for a grant (the grant ended early). */
    async revokeForGrant(grantId: string, reason: RevocationReason = 'privilegeWithdrawn', actor: Actor = SYSTEM): Promise<IssuedCredential[]> {
      checkReason(reason);
      const signals = trustSignals(deps.onTrustChange);
      const revoked = await db.transaction().execute(async (tx) => {
        const rows = await tx.selectFrom('issued_credentials').selectAll().where('grant_id', '=', grantId).forUpdate().execute();
        return revokeRows(rows, reason, actor, tx, signals);
      });
      signals.flush();
      return revoked;
    },

    /** Revoked credentials of a CA that a revocation list must still carry. */
    async revokedForCa(caId: string): Promise<IssuedCredential[]> {
      const since = new Date(+deps.clock.now() - REVOKED_LISTING_GRACE_MS);
      const rows = await db
        .selectFrom('issued_credentials')
        .selectAll()
        .where('ca_id', '=', caId)
        .where('revoked_at', 'is not', null)
        .where('not_after', '>', since)
        .orderBy('serial')
        .execute();
      return rows.map(toCredential);
    },
  };
}

function checkReason(reason: string): asserts reason is RevocationReason {
  if (!(REVOCATION_REASONS as readonly string[]).includes(reason)) {
    throw badRequest(`unknown revocation reason "${String(reason).slice(0, 40)}"; use one of ${REVOCATION_REASONS.join(', ')}`);
  }
}

export function toCredential(r: IssuedCredentialRow): IssuedCredential {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    caId: r.ca_id,
    serial: String(r.serial),
    grantId: r.grant_id,
    subject: r.subject,
    principals: r.principals,
    notBefore: r.not_before,
    notAfter: r.not_after,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    revocationReason: (r.revocation_reason as RevocationReason | null) ?? null,
  };
}
