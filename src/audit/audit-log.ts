/**
 * The append-only audit log (guarantee 5), written without any lock shared between requests.
 *
 * An event is one INSERT in the deciding transaction: durable and visible as soon as the change
 * it describes commits, unsealed (no chain position or hash yet). The sealer (audit-sealer.ts)
 * later gives it the next position of its tenant's chain (or of the platform chain, tenant_id
 * null) and hash = sha256hex(prev_hash + "\n" + canonicalJson(hashed fields)); see hashRecord.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { AuditEventRow, Database } from '../store/schema.js';
import type { AuditInput, AuditLog } from './types.js';

export const GENESIS_HASH = '0'.repeat(64);

/** What an event says, as stored and hashed; snake_case to match the table. */
export interface AuditContent {
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

/** One event as listed and exported: content, insertion id and (once sealed) its chain links. */
export interface ChainedAuditRecord extends AuditContent {
  /** Insertion id: stable sort key of lists and exports; not the chain position. */
  seq: string;
  /** Position in its tenant's chain (the platform chain when tenant_id is null), from 1; null while unsealed. */
  position: string | null;
  prev_hash: string | null;
  hash: string | null;
  sealed_at: string | null;
  /** False while the sealer has not linked it yet (a moment after commit). */
  sealed: boolean;
}

export interface AuditLogDeps {
  clock: Clock;
  newId?: () => string;
}

export interface AuditLogWriter extends AuditLog {
  /** Same as append, returning the stored (still unsealed) event for callers that show or test it. */
  appendRecord(db: Transaction<Database> | Kysely<Database>, event: AuditInput): Promise<ChainedAuditRecord>;
}

export function createAuditLog(deps: AuditLogDeps): AuditLogWriter {
  const newId = deps.newId ?? randomUUID;

  function contentOf(event: AuditInput, at: string): AuditContent {
    return {
      id: normalizeUuid(newId(), 'event id'),
      at,
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
  }

  const rowOf = (content: AuditContent) => ({
    ...content,
    at: new Date(content.at),
    before: content.before === null ? null : canonicalJson(content.before),
    after: content.after === null ? null : canonicalJson(content.after),
  });

  // Date has millisecond precision, which timestamptz keeps exactly, so re-hashing matches.
  const nowIso = () => new Date(deps.clock.now().getTime()).toISOString();

  async function appendRecord(db: Transaction<Database> | Kysely<Database>, event: AuditInput): Promise<ChainedAuditRecord> {
    const content = contentOf(event, nowIso());
    // A single statement: with a plain Kysely it is its own transaction, otherwise it joins the caller's.
    const row = await db.insertInto('audit_events').values(rowOf(content)).returning('seq').executeTakeFirstOrThrow();
    return { ...content, seq: String(row.seq), position: null, prev_hash: null, hash: null, sealed_at: null, sealed: false };
  }

  function appendManyWrite(db: Transaction<Database> | Kysely<Database>, events: readonly AuditInput[]) {
    if (events.length === 0) return null;
    const at = nowIso();
    // One multi-row insert: the events get their insertion ids (seq) in the order given.
    return db.insertInto('audit_events').values(events.map((e) => rowOf(contentOf(e, at))));
  }

  return {
    appendRecord,
    async append(db, event) {
      await appendRecord(db, event);
    },
    async appendMany(db, events) {
      await appendManyWrite(db, events)?.execute();
    },
    appendManyWrite,
  };
}

/**
 * sha256hex(prev_hash + "\n" + canonicalJson(fields)) where fields are the content plus the chain
 * position (a decimal string): the recipe the offline verifier repeats.
 */
export function hashRecord(prevHash: string, record: AuditContent & { position: string }): string {
  const r = record;
  const hashed = {
    position: r.position,
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

/** A stored row as listed and exported. */
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
    position: row.chain_pos === null ? null : String(row.chain_pos),
    prev_hash: row.prev_hash,
    hash: row.hash,
    sealed_at: row.sealed_at?.toISOString() ?? null,
    sealed: row.hash !== null,
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
