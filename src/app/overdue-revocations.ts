/**
 * "Overdue revocation": a grant whose end has passed and that is not yet verified revoked
 * (still active past its end, being revoked, or given up on). Written once: the grants list
 * filter (`overdue=true`) and the `timebox_overdue_revocations` gauge both use it, so the
 * dashboard and the alert always count the same grants.
 */
import type { ExpressionBuilder } from 'kysely';
import type { Database } from '../store/schema.js';

export function isOverdueRevocation(eb: ExpressionBuilder<Database, 'grants'>, now: Date) {
  return eb.or([
    eb.and([eb('grants.state', '=', 'active'), eb('grants.expires_at', '<=', now)]),
    eb('grants.state', 'in', ['revoking', 'revoke_failed']),
  ]);
}
