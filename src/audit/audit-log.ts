/**
 * The append-only, hash-chained audit log (guarantee 5).
 *
 * Each row's hash covers its content and the previous row's hash, so editing, deleting or
 * inserting a row breaks the chain from that point (see audit-verify.ts). Appends from several
 * server processes serialize on a transaction-scoped advisory lock, which also makes seq gapless.
 */
import { createHash, randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { AuditEventRow, Database } from '../store/schema.js';
import type { AuditInput, AuditLog } from './types.js';

/** Arbitrary but fixed: 'timebox' in ASCII. Every appender in every process must use the same one. */
export const AUDIT_LOCK_KEY = '32767015871737720'; // 0x74696d65626f78
export const GENESIS_HASH = '0'.repeat(64);

/** One event exactly as it is hashed and exported; snake_case to match the table. */
export interface AuditRecord {
  seq: string;
  id: string;
  /** ISO-8601 with milliseconds, UTC. */
  at: string;
  tenant_id: string | null;
  actor_type: string;
  actor_id: string | null;
  action: string;
  subject_type: string;
  subject_id: string | null;
  reason: string | null;
  before: unknown;
  after: unknown;
}

export interface ChainedAuditRecord extends AuditRecord {
  prev_hash: string;
  hash: string;
}

export interface AuditLogDeps {
  clock: Clock;
  newId?: () => string;
}

export interface AuditLogWriter extends AuditLog {
  /** Same as append, returning the stored event (seq, hashes) for callers that show or test it. */
  appendRecord(db: Transaction<Database> | Kysely<Database>, event: AuditInput): Promise<ChainedAuditRecord>;
}

export function createAuditLog(deps: AuditLogDeps): AuditLogWriter {
  const newId = deps.newId ?? randomUUID;

  async function appendIn(tx: Transaction<Database>, event: AuditInput): Promise<ChainedAuditRecord> {
    await sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY}::bigint)`.execute(tx);
    // Read after taking the lock: under READ COMMITTED this statement sees the previous holder's commit.
    const last = await tx
      .selectFrom('audit_events')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const record: AuditRecord = {
      seq: (BigInt(last?.seq ?? 0) + 1n).toString(),
      id: normalizeUuid(newId(), 'event id'),
      // Date has millisecond precision, which timestamptz keeps exactly, so re-hashing matches.
      at: new Date(deps.clock.now().getTime()).toISOString(),
      tenant_id: event.tenantId === null ? null : normalizeUuid(event.tenantId, 'tenantId'),
      actor_type: event.actor.type,
      actor_id: event.actor.id,
      action: event.action,
      subject_type: event.subject.type,
      subject_id: event.subject.id,
      reason: event.reason ?? null,
      // Stored and hashed in canonical form, i.e. exactly what jsonb will give back.
      before: toJsonValue(event.before),
      after: toJsonValue(event.after),
    };
    const prev_hash = last?.hash ?? GENESIS_HASH;
    const hash = hashRecord(prev_hash, record);
    await tx
      .insertInto('audit_events')
      .values({
        ...record,
        at: new Date(record.at),
        before: record.before === null ? null : canonicalJson(record.before),
        after: record.after === null ? null : canonicalJson(record.after),
        prev_hash,
        hash,
      })
      .execute();
    return { ...record, prev_hash, hash };
  }

  async function appendRecord(db: Transaction<Database> | Kysely<Database>, event: AuditInput) {
    // A plain Kysely means the caller has no transaction: the lock needs one, so open it here.
    if (db.isTransaction) return appendIn(db as Transaction<Database>, event);
    return db.transaction().execute((tx) => appendIn(tx, event));
  }

  return {
    appendRecord,
    async append(db, event) {
      await appendRecord(db, event);
    },
  };
}

/** sha256hex(prev_hash + "\n" + canonicalJson(record)): also the recipe for offline verification. */
export function hashRecord(prevHash: string, record: AuditRecord): string {
  const r = record;
  const hashed = {
    seq: r.seq,
    id: r.id,
    at: r.at,
    tenant_id: r.tenant_id,
    actor_type: r.actor_type,
    actor_id: r.actor_id,
    action: r.action,
    subject_type: r.subject_type,
    subject_id: r.subject_id,
    reason: r.reason,
    before: r.before,
    after: r.after,
  };
  return createHash('sha256').update(`${prevHash}\n${canonicalJson(hashed)}`, 'utf8').digest('hex');
}

/** A stored row as the record that was hashed (and that export writes). */
export function rowToRecord(row: AuditEventRow): ChainedAuditRecord {
  return {
    seq: String(row.seq),
    id: row.id,
    at: row.at.toISOString(),
    tenant_id: row.tenant_id,
    actor_type: row.actor_type,
    actor_id: row.actor_id,
    action: row.action,
    subject_type: row.subject_type,
    subject_id: row.subject_id,
    reason: row.reason,
    before: row.before ?? null,
    after: row.after ?? null,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * JSON with object keys sorted (by UTF-16 code units) at every level and no whitespace.
 * jsonb reorders keys and reformats numbers (1.50 -> 1.5); sorting keys and letting
 * JavaScript print numbers makes the text identical before and after a jsonb round trip.
 */
export function canonicalJson(value: unknown): string {
  return stringifySorted(toJsonValue(value));
}

/** Plain JSON data (toJSON applied, undefined dropped, NaN -> null); undefined itself -> null. */
function toJsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

function stringifySorted(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stringifySorted).join(',')}]`;
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stringifySorted(obj[k])}`).join(',')}}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** PostgreSQL prints uuids lowercase and hyphenated; hash that form or verification would fail. */
function normalizeUuid(value: string, what: string): string {
  const v = value.toLowerCase();
  if (!UUID.test(v)) throw new Error(`audit event ${what} must be a UUID`);
  return v;
}
