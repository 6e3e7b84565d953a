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
import type { PasswordGuesses } from './password-guesses.js';

export interface OwnPasswordDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  tokens: Pick<Tokens, 'revokeAllOf'>;
  /** A wrong current password counts against the account as a failed sign-in does. */
  guesses: PasswordGuesses;
}

export function createOwnPassword(deps: OwnPasswordDeps) {
  const { db, audit, tokens, guesses } = deps;

  /** `ip`: the caller's address, counted with the account when the current password is wrong. */
  async function change(me: Principal, current: string, next: string, ip?: string): Promise<{ sessionsEnded: number }> {
    const row = await db.selectFrom('operators').select(['password_hash', 'email', 'display_name']).where('id', '=', me.operatorId).executeTakeFirstOrThrow();
    // A session or token in someone else's hands must not become a way to guess the password.
    const limited = await guesses.refusal({ email: row.email, ip });
    if (limited) throw limited;
    if (!(await verifyPasswordOrDummy(row.password_hash, current))) {
      await guesses.failed({ email: row.email, ip });
      await audit.append(db, {
        tenantId: null,
        actor: { type: 'operator', id: me.operatorId },
        action: 'operator.password_change_failed',
        subject: { type: 'operator', id: me.operatorId },
        reason: 'the current password was not correct',
        after: { ip: ip ?? null },
      });
      throw forbidden('the current password is not correct');
    }
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
