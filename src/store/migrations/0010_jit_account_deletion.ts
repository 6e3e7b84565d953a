import { sql, type Kysely } from 'kysely';

/**
 * JIT accounts can be deleted ('deleting' while the target removes it, then 'deleted'). The row
 * stays (grants and the audit trail point at it); uniqueness of the person's account and of the
 * name on a target now holds among accounts that are not deleted, so a fresh one can be created.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE jit_accounts DROP CONSTRAINT jit_accounts_target_id_operator_id_key;
    ALTER TABLE jit_accounts DROP CONSTRAINT jit_accounts_target_id_username_key;
    CREATE UNIQUE INDEX jit_accounts_live_owner ON jit_accounts (target_id, operator_id) WHERE status <> 'deleted';
    CREATE UNIQUE INDEX jit_accounts_live_name ON jit_accounts (target_id, username) WHERE status <> 'deleted';
  `.execute(db);
}
