/** What the rest of the code needs from the audit log. Implemented in audit-log.ts. */
import type { Compilable, Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

export type ActorType = 'operator' | 'system' | 'agent';

export interface AuditInput {
  tenantId: string | null;
  actor: { type: ActorType; id: string | null };
  /** dotted verb, e.g. 'grant.activated', 'target.created', 'auth.login_failed' */
  action: string;
  subject: { type: string; id: string | null };
  reason?: string | null;
  before?: unknown;
  after?: unknown;
}

export interface AuditLog {
  /**
   * Appends one event inside the caller's transaction, so the event exists if and only if
   * the state change it describes was committed. Never pass secrets in before/after.
   */
  append(tx: Transaction<Database> | Kysely<Database>, event: AuditInput): Promise<void>;
  /**
   * Appends several events of one change with one statement (in the order given, which is their
   * order in the log), with the same guarantee as `append`.
   */
  appendMany(tx: Transaction<Database> | Kysely<Database>, events: readonly AuditInput[]): Promise<void>;
  /**
   * `appendMany`'s statement, not run: for a caller that sends it with the rest of its change in
   * one statement (src/store/write-together.ts). Null when there is nothing to append.
   */
  appendManyWrite(tx: Transaction<Database> | Kysely<Database>, events: readonly AuditInput[]): Compilable | null;
}
