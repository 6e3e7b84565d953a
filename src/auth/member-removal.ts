/**
 * What leaving a tenant does beyond deleting the membership: the person's pending requests and
 * live grants there end in the removal's own transaction, so no crash between the two can leave
 * someone outside the tenant holding access in it; then (after the commit) the revocations are
 * started and the approvals waiting on them re-routed. The offboarding use case implements it;
 * the two ways out of a tenant (an admin removes the member, the identity provider no longer
 * gives a role there) both call it.
 */
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { Actor } from './operators.js';

/** What leaving ended: pending requests cancelled, live grants moved to revoking. */
export interface AccessEnded {
  requestsCancelled: number;
  grantsRevoked: number;
}

export interface MemberRemoval {
  endAccessIn(tx: Transaction<Database>, tenantId: string, operatorId: string, actor: Actor, reason: string): Promise<AccessEnded>;
  afterCommit(tenantId: string, operatorId: string, actor: Actor): Promise<void>;
}

/** For a server that runs no grants (the HTTP layer's own tests): nothing to end. */
export const noAccessToEnd: MemberRemoval = {
  endAccessIn: async () => ({ requestsCancelled: 0, grantsRevoked: 0 }),
  afterCommit: async () => {},
};
