/**
 * The seal lag as every replica sees it: the age of the oldest event no sealer has linked into
 * its chain yet (0 when all are sealed). Read from the database, not from the sealer's memory,
 * so the figure is the same whichever replica holds the sealer lease — and it keeps growing when
 * no sealer runs at all, which is exactly when someone must be paged.
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { Database } from '../store/schema.js';

export async function oldestUnsealedAgeSeconds(db: Kysely<Database>, clock: Clock): Promise<number> {
  // Served by the partial index on unsealed rows (hash IS NULL): a handful of rows at most.
  const row = await db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.min('at').as('oldest'))
    .where('hash', 'is', null)
    .executeTakeFirst();
  if (!row?.oldest) return 0;
  return Math.max(0, (clock.now().getTime() - new Date(row.oldest as Date).getTime()) / 1000);
}
