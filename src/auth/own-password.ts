/**
 * An operator changes their own password: the current one proves it is them, the new one must
 * pass the password rules. Every other session of theirs ends; the one in use stays signed in.
 * This also lifts the "change it first" requirement on a password someone else set.
 */
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import { badRequest, forbidden } from '../core/errors.js';
import type { Database } from '../store/schema.js';
import { inTransaction } from './operators.js';
import { hashPassword, verifyPasswordOrDummy } from './password-hash.js';
import { passwordProblem } from './password-policy.js';
import type { Principal, Tokens } from './tokens.js';

export interface OwnPasswordDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  tokens: Pick<Tokens, 'revokeAllOf'>;
}

export function createOwnPassword(deps: OwnPasswordDeps) {
  const { db, audit, tokens } = deps;

  async function change(me: Principal, current: string, next: string): Promise<{ sessionsEnded: number }> {
    const row = await db.selectFrom('operators').select(['password_hash', 'email', 'display_name']).where('id', '=', me.operatorId).executeTakeFirstOrThrow();
    if (!(await verifyPasswordOrDummy(row.password_hash, current))) throw forbidden('the current password is not correct');
    if (next === current) throw badRequest('the new password must differ from the current one');
    const problem = await passwordProblem(next, row.email, row.display_name);
    if (problem) throw badRequest(problem);
    const hash = await hashPassword(next);
    return inTransaction(db, async (tx) => {
      await tx.updateTable('operators').set({ password_hash: hash, password_change_required: false }).where('id', '=', me.operatorId).execute();
      // Whoever else knew the old password (or a session opened with it) is out now.
      const sessionsEnded = await tokens.revokeAllOf(me.operatorId, { apiTokens: false, keep: me.tokenId }, tx);
      await audit.append(tx, {
        tenantId: null,
        actor: { type: 'operator', id: me.operatorId },
        action: 'operator.password_changed',
        subject: { type: 'operator', id: me.operatorId },
        after: { otherSessionsEnded: sessionsEnded, wasRequired: me.passwordChangeRequired },
      });
      return { sessionsEnded };
    });
  }

  return { change };
}

export type OwnPassword = ReturnType<typeof createOwnPassword>;
