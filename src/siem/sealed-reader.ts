/**
 * Reads sealed audit events after a sink's cursors and moves the cursors. One cursor per chain
 * (tenant, or the platform): positions of a chain never change once sealed and have no gaps, so
 * "everything after position p" is exact. Plain reads and a cursor upsert: nothing a writer or the
 * sealer waits for.
 */
import { sql, type Kysely } from 'kysely';
import { exportLine } from '../audit/audit-query.js';
import type { AuditEventRow, Database } from '../store/schema.js';
import type { ExportedEvent } from './exported-event.js';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export interface SealedEvent extends ExportedEvent {
  chain: string;
  position: string;
}

/**
 * Up to `limit` sealed events after the cursors. Taken round-robin over chains by distance from
 * their cursor (first event of every chain, then the second…), so each chain's share is a
 * contiguous run after its cursor and no busy tenant starves another.
 */
export async function readSealedAfter(db: Kysely<Database>, sink: string, limit: number): Promise<SealedEvent[]> {
  const { rows } = await sql<AuditEventRow & { siem_chain: string }>`
    WITH chains AS (SELECT id AS k FROM tenants UNION ALL SELECT ${ZERO_UUID}::uuid)
    SELECT b.* FROM (
      SELECT e.*, c.k::text AS siem_chain, e.chain_pos - coalesce(sc.chain_pos, 0) AS siem_rank
      FROM chains c
      LEFT JOIN siem_cursors sc ON sc.sink = ${sink} AND sc.chain = c.k
      CROSS JOIN LATERAL (
        SELECT * FROM audit_events
        WHERE coalesce(tenant_id, ${sql.lit(ZERO_UUID)}::uuid) = c.k AND chain_pos IS NOT NULL
          AND chain_pos > coalesce(sc.chain_pos, 0)
        ORDER BY chain_pos LIMIT ${limit}
      ) e
    ) b
    ORDER BY b.siem_rank, b.siem_chain
    LIMIT ${limit}`.execute(db);
  return rows.map((r) => {
    const row = { ...r, at: new Date(r.at), sealed_at: r.sealed_at === null ? null : new Date(r.sealed_at) } as AuditEventRow;
    return {
      chain: r.siem_chain,
      position: String(row.chain_pos),
      id: row.id,
      at: row.at.toISOString(),
      action: row.action,
      line: exportLine(row),
    };
  });
}

/** After a delivery: each chain's cursor moves to the highest position delivered (never back). */
export async function advanceCursors(db: Kysely<Database>, sink: string, delivered: readonly SealedEvent[], now: Date): Promise<void> {
  const top = new Map<string, bigint>();
  for (const e of delivered) {
    const p = BigInt(e.position);
    if ((top.get(e.chain) ?? 0n) < p) top.set(e.chain, p);
  }
  if (top.size === 0) return;
  const values = sql.join([...top].map(([chain, pos]) => sql`(${sink}, ${chain}::uuid, ${pos.toString()}::bigint, ${now}::timestamptz)`));
  await sql`
    INSERT INTO siem_cursors (sink, chain, chain_pos, updated_at) VALUES ${values}
    ON CONFLICT (sink, chain) DO UPDATE SET chain_pos = greatest(siem_cursors.chain_pos, EXCLUDED.chain_pos), updated_at = EXCLUDED.updated_at`.execute(db);
}

/** Sealed events not yet delivered to the sink (the backlog). */
export async function sinkBacklog(db: Kysely<Database>, sink: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(*)::text AS n FROM audit_events e
    LEFT JOIN siem_cursors sc ON sc.sink = ${sink} AND sc.chain = coalesce(e.tenant_id, ${sql.lit(ZERO_UUID)}::uuid)
    WHERE e.chain_pos IS NOT NULL AND e.chain_pos > coalesce(sc.chain_pos, 0)`.execute(db);
  return Number(rows[0]?.n ?? 0);
}
