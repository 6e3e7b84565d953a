/**
 * One worker at a time touches one JIT account on its target, across processes: a lease row
 * in the database (not a transaction held open over a network call, which would stall PGlite's
 * single connection). A lease held by a crashed process lapses by itself.
 *
 * Scheduled activations and revocations take this lease with their claim and give it back in the
 * transaction that completes them (src/scheduler/work-queue.ts); these helpers serve the other
 * holders (extension, rotation, deletion, reconcile).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

export async function acquireAccountLease(
  db: Kysely<Database>,
  accountId: string,
  token: string,
  now: Date,
  leaseMs = 60_000,
): Promise<boolean> {
  const row = await db
    .updateTable('jit_accounts')
    .set({ lease_owner: token, lease_until: new Date(now.getTime() + leaseMs) })
    .where('id', '=', accountId)
    .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_until', '<', now), eb('lease_owner', '=', token)]))
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function releaseAccountLease(db: Kysely<Database>, accountId: string, token: string): Promise<void> {
  await db
    .updateTable('jit_accounts')
    .set({ lease_owner: null, lease_until: null })
    .where('id', '=', accountId)
    .where('lease_owner', '=', token)
    .execute();
}
