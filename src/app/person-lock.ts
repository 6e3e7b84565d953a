/**
 * Serialises one person's writes that are counted against a per-person cap (open grants under a
 * policy) or that create their JIT account: a transaction-scoped advisory lock keyed by the
 * operator, so it holds across server processes and is released at commit or rollback. Other
 * people are never blocked (a hash collision only serialises two people's requests).
 *
 * Lock order, everywhere it is taken: this person lock first, then the JIT account row, then
 * grant rows, then the audit chain (appends come last in a transaction). The two-key form lives
 * apart from the single-bigint keys other parts of the system use.
 */
import { sql, type Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

/** First key of the two-key advisory lock space: "person". */
const PERSON_LOCK_SPACE = 0x7442_5045; // 'tBPE'

export async function lockPerson(tx: Transaction<Database>, operatorId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${PERSON_LOCK_SPACE}::int, hashtext(${operatorId}))`.execute(tx);
}
