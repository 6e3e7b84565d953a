/**
 * Per-tenant certificate authorities: one active CA per kind issues; rotation turns it into a
 * retiring CA that stays published (trusted by hosts, TLS servers and token verifiers) until every
 * credential it issued has expired or been revoked, and is then retired.
 *
 * Whether a retiring CA is still needed is computed from the issued credentials rather than a
 * stored deadline, so a credential issued during a rotation race extends the overlap instead of
 * being stranded. Private keys are SecretBox ciphertexts bound to `ca:<id>`.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { conflict, notFound } from '../core/errors.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import type { CertificateAuthorityRow, CredentialsDatabase } from '../store/schema-credentials.js';
import { generateCaKey } from './ca-keys.js';
import { trustSignals, type TrustChangeHook } from './trust-signal.js';
import { SYSTEM, credentialsDb, type Actor, type CaInfo, type CaKind, type PublishedCa } from './types.js';

export interface CaStoreDeps {
  db: Kysely<Database>;
  box: SecretBox;
  clock: Clock;
  audit: AuditLog;
  /** Where ssh-keygen scratch directories go (default: /dev/shm when available). */
  scratchRoot?: string;
  x509ValidityDays?: number;
  newId?: () => string;
  /** Told (inside the transaction) when a CA is created, rotated or retired: what relying parties trust changed. */
  onTrustChange?: TrustChangeHook;
}

/** What an engine needs to sign one credential. */
export interface Signer {
  ca: CaInfo;
  /** Decrypted private key: use it, never log or return it. */
  privateKey: string;
  /** A serial no other credential of this CA has (decimal string). */
  serial: string;
}

export type CaStore = ReturnType<typeof createCaStore>;

export function createCaStore(deps: CaStoreDeps) {
  const db = credentialsDb(deps.db);
  const newId = deps.newId ?? randomUUID;
  const context = (id: string) => `ca:${id}`;
  const audit = (tx: Transaction<CredentialsDatabase>, event: Parameters<AuditLog['append']>[1]) =>
    deps.audit.append(tx as unknown as Transaction<Database>, event);
  const signalsOf = () => {
    const signals = trustSignals(deps.onTrustChange);
    return {
      raise: (tx: Transaction<CredentialsDatabase>, tenantId: string, kind: CaKind) =>
        signals.raise(tx as unknown as Transaction<Database>, { tenantId, kind }),
      flush: signals.flush,
    };
  };

  async function activeRow(tenantId: string, kind: CaKind): Promise<CertificateAuthorityRow | undefined> {
    return db
      .selectFrom('certificate_authorities')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('kind', '=', kind)
      .where('status', '=', 'active')
      .executeTakeFirst();
  }

  /** Generates a key (outside any transaction: ssh-keygen takes milliseconds) and its row. */
  async function newRow(tenantId: string, kind: CaKind) {
    const id = newId();
    const now = deps.clock.now();
    const key = await generateCaKey(kind, {
      caId: id,
      tenantId,
      now,
      ...(deps.scratchRoot ? { scratchRoot: deps.scratchRoot } : {}),
      ...(deps.x509ValidityDays ? { x509ValidityDays: deps.x509ValidityDays } : {}),
    });
    return {
      id,
      tenant_id: tenantId,
      kind,
      key_id: key.keyId,
      algorithm: key.algorithm,
      public_key: key.publicKey,
      private_key_enc: deps.box.encrypt(key.privateKey, context(id)),
      status: 'active' as const,
      created_at: now,
      not_after: key.notAfter,
    };
  }

  const created = (row: { id: string; kind: CaKind; key_id: string; algorithm: string }) => ({
    kind: row.kind,
    keyId: row.key_id,
    algorithm: row.algorithm,
  });

  const store = {
    /** The tenant's issuing CA of this kind, created on first use. */
    async ensureActive(tenantId: string, kind: CaKind, actor: Actor = SYSTEM): Promise<CaInfo> {
      const existing = await activeRow(tenantId, kind);
      if (existing) return toInfo(existing);
      const row = await newRow(tenantId, kind);
      const signals = signalsOf();
      try {
        await db.transaction().execute(async (tx) => {
          await tx.insertInto('certificate_authorities').values(row).execute();
          await audit(tx, {
            tenantId,
            actor,
            action: 'ca.created',
            subject: { type: 'certificate_authority', id: row.id },
            after: created(row),
          });
          await signals.raise(tx, tenantId, kind);
        });
        signals.flush();
      } catch (err) {
        // Another request created it first (one active CA per tenant and kind): use theirs.
        if (!isUniqueViolation(err)) throw err;
        const winner = await activeRow(tenantId, kind);
        if (!winner) throw err;
        return toInfo(winner);
      }
      return toInfo((await activeRow(tenantId, kind))!);
    },

    /**
     * Starts issuing from a new CA. The previous one becomes 'retiring': still published until
     * its credentials run out (see published / retireDrained), never used to sign again.
     */
    async rotate(tenantId: string, kind: CaKind, actor: Actor = SYSTEM): Promise<{ active: CaInfo; retiring: CaInfo | null }> {
      const row = await newRow(tenantId, kind);
      const now = deps.clock.now();
      const signals = signalsOf();
      const old = await db.transaction().execute(async (tx) => {
        const current = await tx
          .selectFrom('certificate_authorities')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .where('kind', '=', kind)
          .where('status', '=', 'active')
          .forUpdate()
          .executeTakeFirst();
        let retired: CertificateAuthorityRow | undefined;
        if (current) {
          retired = await tx
            .updateTable('certificate_authorities')
            .set({ status: 'retiring', rotated_at: now })
            .where('id', '=', current.id)
            .returningAll()
            .executeTakeFirstOrThrow();
        }
        await tx.insertInto('certificate_authorities').values(row).execute();
        await audit(tx, {
          tenantId,
          actor,
          action: current ? 'ca.rotated' : 'ca.created',
          subject: { type: 'certificate_authority', id: row.id },
          before: current ? { id: current.id, ...created(current) } : null,
          after: created(row),
        });
        await signals.raise(tx, tenantId, kind);
        return retired;
      });
      signals.flush();
      return { active: toInfo((await activeRow(tenantId, kind))!), retiring: old ? toInfo(old) : null };
    },

    /** Every CA of the tenant (all statuses), newest first. */
    async list(tenantId: string, kind?: CaKind): Promise<CaInfo[]> {
      let q = db.selectFrom('certificate_authorities').selectAll().where('tenant_id', '=', tenantId);
      if (kind) q = q.where('kind', '=', kind);
      return (await q.orderBy('created_at', 'desc').orderBy('id').execute()).map(toInfo);
    },

    /**
     * The CAs relying parties must trust now: the active one and retiring ones that still have
     * live credentials. Retires drained CAs first, so the answer never depends on a sweep having run.
     */
    async published(tenantId: string, kind: CaKind): Promise<PublishedCa[]> {
      await store.retireDrained(tenantId);
      const now = deps.clock.now();
      const rows = await db
        .selectFrom('certificate_authorities as ca')
        .selectAll('ca')
        .select((eb) =>
          eb
            .selectFrom('issued_credentials as ic')
            .select((e) => e.fn.max('ic.not_after').as('m'))
            .whereRef('ic.ca_id', '=', 'ca.id')
            .where('ic.not_after', '>', now)
            .where('ic.revoked_at', 'is', null)
            .as('live_until'),
        )
        .where('ca.tenant_id', '=', tenantId)
        .where('ca.kind', '=', kind)
        .where('ca.status', 'in', ['active', 'retiring'])
        .orderBy('ca.created_at', 'desc')
        .orderBy('ca.id')
        .execute();
      const rank = (r: { status: string }) => (r.status === 'active' ? 0 : 1);
      // The issuing CA first, then retiring ones newest first (already ordered by created_at).
      return [...rows]
        .sort((a, b) => rank(a) - rank(b))
        .map((r) => ({ ...toInfo(r), trustedUntil: r.status === 'active' ? null : (r.live_until as Date | null) }));
    },

    /**
     * Marks retiring CAs whose credentials have all expired or been revoked as retired. Safe to run
     * from any number of processes (a scheduler tick, or implicitly from published()).
     */
    async retireDrained(tenantId?: string, actor: Actor = SYSTEM): Promise<CaInfo[]> {
      const now = deps.clock.now();
      const signals = signalsOf();
      const done = await db.transaction().execute(async (tx) => {
        // Lock first, count second: under READ COMMITTED the count then sees any credential that an
        // issuer (which holds this row's lock while recording) committed before we got the lock.
        let q = tx.selectFrom('certificate_authorities').select(['id']).where('status', '=', 'retiring');
        if (tenantId) q = q.where('tenant_id', '=', tenantId);
        const candidates = await q.forUpdate().execute();
        const retired: CaInfo[] = [];
        for (const { id } of candidates) {
          const live = await tx
            .selectFrom('issued_credentials')
            .select('id')
            .where('ca_id', '=', id)
            .where('not_after', '>', now)
            .where('revoked_at', 'is', null)
            .limit(1)
            .executeTakeFirst();
          if (live) continue;
          const row = await tx
            .updateTable('certificate_authorities')
            .set({ status: 'retired', retired_at: now })
            .where('id', '=', id)
            .returningAll()
            .executeTakeFirstOrThrow();
          await audit(tx, {
            tenantId: row.tenant_id,
            actor,
            action: 'ca.retired',
            subject: { type: 'certificate_authority', id },
            after: created(row),
          });
          // Hosts stop trusting it and refuse what it signed (the KRL lists retired CAs).
          await signals.raise(tx, row.tenant_id, row.kind);
          retired.push(toInfo(row));
        }
        return retired;
      });
      signals.flush();
      return done;
    },

    async get(caId: string): Promise<CaInfo | null> {
      const row = await db.selectFrom('certificate_authorities').selectAll().where('id', '=', caId).executeTakeFirst();
      return row ? toInfo(row) : null;
    },

    /** The active CA, its decrypted key and a fresh serial; retried once if a rotation raced us. */
    async signer(tenantId: string, kind: CaKind, actor: Actor = SYSTEM): Promise<Signer> {
      for (let attempt = 0; attempt < 3; attempt++) {
        const ca = await store.ensureActive(tenantId, kind, actor);
        // The WHERE status = 'active' makes the counter bump fail if the CA was rotated meanwhile.
        const bumped = await db
          .updateTable('certificate_authorities')
          .set({ last_serial: sql`last_serial + 1` })
          .where('id', '=', ca.id)
          .where('status', '=', 'active')
          .returning('last_serial')
          .executeTakeFirst();
        if (!bumped) continue;
        return { ca, privateKey: await store.privateKey(ca.id), serial: String(bumped.last_serial) };
      }
      throw conflict(`the ${kind} CA is being rotated; try again`);
    },

    /** Decrypts a CA's private key (for signing CRLs and credentials). Never log the result. */
    async privateKey(caId: string): Promise<string> {
      const row = await db
        .selectFrom('certificate_authorities')
        .select(['id', 'private_key_enc'])
        .where('id', '=', caId)
        .executeTakeFirst();
      if (!row) throw notFound('certificate authority');
      return deps.box.decrypt(row.private_key_enc, context(row.id));
    },
  };
  return store;
}

export function toInfo(r: CertificateAuthorityRow): CaInfo {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    kind: r.kind,
    keyId: r.key_id,
    algorithm: r.algorithm,
    publicKey: r.public_key,
    status: r.status,
    createdAt: r.created_at,
    notAfter: r.not_after,
    rotatedAt: r.rotated_at,
    retiredAt: r.retired_at,
  };
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}
