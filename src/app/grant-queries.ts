/** Reads shared by the jobs: overlapping grants of one account decide what a revoke may take. */
import type { Kysely, Transaction } from 'kysely';
import { holdingStates } from '../core/lifecycle.js';
import type { Database, GrantRow } from '../store/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export async function loadGrant(db: Db, grantId: string): Promise<GrantRow | undefined> {
  return db.selectFrom('grants').selectAll().where('id', '=', grantId).executeTakeFirst();
}

/**
 * Other grants of the same account that still hold (or are about to hold) their entitlements.
 * With `now`, grants already past their end do not count: they are being revoked too.
 */
export async function otherHolders(db: Db, grant: GrantRow, now?: Date): Promise<GrantRow[]> {
  let q = db
    .selectFrom('grants')
    .selectAll()
    .where('jit_account_id', '=', grant.jit_account_id)
    .where('id', '!=', grant.id)
    .where('state', 'in', [...holdingStates]);
  if (now) q = q.where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));
  return q.execute();
}

export function latestEnd(grants: ReadonlyArray<Pick<GrantRow, 'expires_at'>>): Date | null {
  let max: Date | null = null;
  for (const g of grants) if (g.expires_at && (!max || g.expires_at > max)) max = g.expires_at;
  return max;
}

export function handleOf(grant: GrantRow): Record<string, unknown> {
  const h = grant.handle;
  if (h && typeof h === 'object') return h as Record<string, unknown>;
  if (typeof h === 'string') return JSON.parse(h) as Record<string, unknown>;
  return { entitlements: grant.entitlements };
}
