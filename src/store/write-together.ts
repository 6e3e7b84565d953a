/**
 * Several writes of one change sent as one statement: every write but the last as a
 * data-modifying CTE, the last as the statement itself (its rows are returned). PostgreSQL runs
 * each exactly once and to completion, all on one snapshot, so none may read what another writes
 * or touch the same row; foreign keys are checked at the statement's end, so a row may reference
 * one inserted beside it. One round trip instead of one per write: on this path every statement
 * is a round trip, and the round trips are most of a lifecycle's cost.
 *
 * A write must be a plain statement: PostgreSQL allows a data-modifying WITH only at the top.
 */
import { sql, type Compilable, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from './schema.js';

export type Write = Compilable | RawBuilder<unknown>;

export async function writeTogether<R = unknown>(db: Kysely<Database> | Transaction<Database>, writes: readonly Write[]): Promise<R[]> {
  if (writes.length === 0) return [];
  const last = writes[writes.length - 1]!;
  if (writes.length === 1) return (await sql<R>`${last}`.execute(db)).rows;
  const ctes = writes.slice(0, -1).map((w, i) => sql`${sql.id(`w${i}`)} AS (${w})`);
  return (await sql<R>`WITH ${sql.join(ctes)} ${last}`.execute(db)).rows;
}
