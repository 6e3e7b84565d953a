/**
 * Reading the audit log: a filtered, keyset-paginated list (newest first) for the UI/API, and a
 * JSON-lines export (oldest first). Both sort by insertion id (seq), which is stable, and show
 * unsealed events too (position, prev_hash and hash null). Export lines carry each event's chain
 * position and hashes, followed by one `{"checkpoint": …}` line per signed checkpoint of the
 * exported chains, so an auditor can check a tenant's export alone, offline
 * (scripts/verify-audit-export.mjs). An export filtered by more than the tenant has gaps by design.
 */
import type { Kysely, SelectQueryBuilder } from 'kysely';
import { badRequest } from '../core/errors.js';
import type { AuditEventRow, Database } from '../store/schema.js';
import { rowToRecord, type ChainedAuditRecord } from './audit-log.js';
import { listStoredCheckpoints } from './audit-verify.js';

export interface AuditFilter {
  tenantId?: string;
  /** Exact action ('grant.activated'), or a prefix ending in '.*' ('grant.*'). */
  action?: string;
  actorId?: string;
  subjectId?: string;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
}

export interface ListAuditOptions extends AuditFilter {
  /** nextCursor of the previous page. */
  cursor?: string | null;
  limit: number;
}

export interface AuditPage {
  items: ChainedAuditRecord[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export const MAX_PAGE_SIZE = 1000;
const EXPORT_PAGE_SIZE = 1000;

export async function listAuditEvents(db: Kysely<Database>, opts: ListAuditOptions): Promise<AuditPage> {
  const limit = Math.min(Math.max(1, Math.floor(opts.limit) || 1), MAX_PAGE_SIZE);
  let query = applyFilter(db.selectFrom('audit_events').selectAll(), opts);
  if (opts.cursor != null && opts.cursor !== '') query = query.where('seq', '<', parseCursor(opts.cursor));
  // One extra row tells whether another page exists without a count query.
  const rows = await query.orderBy('seq', 'desc').limit(limit + 1).execute();
  const items = rows.slice(0, limit).map(rowToRecord);
  const nextCursor = rows.length > limit ? items[items.length - 1]!.seq : null;
  return { items, nextCursor };
}

/** Writes one JSON object per line, oldest first, reading `EXPORT_PAGE_SIZE` rows at a time. */
export async function exportAuditEvents(
  db: Kysely<Database>,
  filter: AuditFilter,
  write: (line: string) => void | Promise<void>,
): Promise<{ exported: number; checkpoints: number }> {
  applyFilter(db.selectFrom('audit_events').selectAll(), filter); // a bad filter is a 400 before anything is read
  // Only an export of whole chains can be checked against checkpoints. Read before the events:
  // sealing only moves forward, so every checkpoint read now covers events sealed when read below.
  const wholeChains = Object.entries(filter).every(([k, v]) => k === 'tenantId' || v === undefined);
  const signed = wholeChains ? await listStoredCheckpoints(db, filter.tenantId) : [];
  let after: string | null = null;
  let exported = 0;
  for (;;) {
    let query = applyFilter(db.selectFrom('audit_events').selectAll(), filter);
    if (after !== null) query = query.where('seq', '>', after);
    const rows = await query.orderBy('seq', 'asc').limit(EXPORT_PAGE_SIZE).execute();
    for (const row of rows) {
      // Awaited one by one so a slow consumer (HTTP response, file) applies back-pressure.
      await write(exportLine(row));
      exported++;
    }
    if (rows.length < EXPORT_PAGE_SIZE) break;
    after = String(rows[rows.length - 1]!.seq);
  }
  for (const cp of signed) await write(JSON.stringify({ checkpoint: cp }));
  return { exported, checkpoints: signed.length };
}

/** One event as an export line (and as SIEM sinks send it): the one serialisation of an event. */
export function exportLine(row: AuditEventRow): string {
  return JSON.stringify(rowToRecord(row));
}

type AuditQuery = SelectQueryBuilder<Database, 'audit_events', any>;

function applyFilter<Q extends AuditQuery>(query: Q, f: AuditFilter): Q {
  let q = query as AuditQuery;
  if (f.tenantId !== undefined) {
    // The column is uuid: anything else would be a database error (a 500) instead of a 400.
    if (!UUID.test(f.tenantId)) throw badRequest('tenantId must be a UUID');
    q = q.where('tenant_id', '=', f.tenantId);
  }
  if (f.action !== undefined) {
    if (f.action.endsWith('.*')) {
      q = q.where('action', 'like', `${escapeLike(f.action.slice(0, -1))}%`);
    } else {
      q = q.where('action', '=', f.action);
    }
  }
  if (f.actorId !== undefined) q = q.where('actor_id', '=', f.actorId);
  if (f.subjectId !== undefined) q = q.where('subject_id', '=', f.subjectId);
  if (f.since !== undefined) q = q.where('at', '>=', f.since);
  if (f.until !== undefined) q = q.where('at', '<', f.until);
  return q as Q;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The default LIKE escape character is backslash; escape it and the wildcards. */
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

const MAX_BIGINT = 9_223_372_036_854_775_807n;

function parseCursor(cursor: string): string {
  // A cursor is a seq; anything else is a client bug, reported as such rather than a 500.
  // Within bigint: a larger number would be PostgreSQL's out-of-range error, a 500.
  if (!/^[1-9][0-9]{0,18}$/.test(cursor) || BigInt(cursor) > MAX_BIGINT) throw badRequest('query.cursor: malformed cursor; use the nextCursor of a previous page');
  return cursor;
}
