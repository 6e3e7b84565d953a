import { sql, type Kysely } from 'kysely';

/**
 * JIT account settings per tenant and target (Quickpass "Just-in-time Accounts Access", step 1):
 * whether JIT accounts may be created, which privileged groups they may get, and which operator
 * groups may create them in addition to owners, admins and approvers. Edited in place: no need
 * to disable and re-enable to change the groups.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE tenant_jit_settings (
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      target_id uuid NOT NULL REFERENCES targets(id),
      enabled boolean NOT NULL,
      -- Entitlement external ids (AD: group DNs) exactly as the target lists them.
      allowed_groups text[] NOT NULL,
      -- operator_groups ids (text: a deleted group simply matches nobody).
      creator_group_ids text[] NOT NULL,
      updated_at timestamptz NOT NULL,
      updated_by uuid REFERENCES operators(id),
      PRIMARY KEY (tenant_id, target_id)
    );
  `.execute(db);
}
