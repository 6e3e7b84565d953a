import { sql, type Kysely } from 'kysely';

/** Operator groups, richer policy rules, approvals, extensions and break-glass reviews. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE operator_groups (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      name text NOT NULL,
      created_at timestamptz NOT NULL,
      UNIQUE (tenant_id, name)
    );
    CREATE TABLE operator_group_members (
      group_id uuid NOT NULL REFERENCES operator_groups(id) ON DELETE CASCADE,
      operator_id uuid NOT NULL REFERENCES operators(id),
      PRIMARY KEY (group_id, operator_id)
    );

    -- Everything a policy says beyond the basics, validated by one zod schema at every edge.
    ALTER TABLE policies ADD COLUMN rules jsonb NOT NULL DEFAULT '{}'::jsonb;

    ALTER TABLE grants ADD COLUMN policy_id uuid REFERENCES policies(id);
    ALTER TABLE grants ADD COLUMN approval_level integer NOT NULL DEFAULT 0;
    ALTER TABLE grants ADD COLUMN emergency boolean NOT NULL DEFAULT false;
    ALTER TABLE grants ADD COLUMN extended_seconds integer NOT NULL DEFAULT 0;

    CREATE TABLE grant_extensions (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      grant_id uuid NOT NULL REFERENCES grants(id),
      requester_id uuid NOT NULL REFERENCES operators(id),
      seconds integer NOT NULL,
      reason text NOT NULL,
      state text NOT NULL,             -- 'pending', 'approved', 'denied', 'cancelled'
      approval_level integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL,
      decided_at timestamptz
    );
    CREATE INDEX grant_extensions_grant ON grant_extensions(grant_id);

    -- One decision per person per request (or extension): nobody approves twice.
    CREATE TABLE approvals (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      subject_type text NOT NULL,      -- 'grant' or 'extension'
      subject_id uuid NOT NULL,
      grant_id uuid NOT NULL REFERENCES grants(id),
      level integer NOT NULL,
      approver_id uuid NOT NULL REFERENCES operators(id),
      decision text NOT NULL,          -- 'approve' or 'deny'
      reason text,
      duration_seconds integer,        -- set when the approver shortened the grant
      start_at timestamptz,            -- set when the approver moved the start
      created_at timestamptz NOT NULL,
      UNIQUE (subject_type, subject_id, approver_id)
    );
    CREATE INDEX approvals_grant ON approvals(grant_id);

    -- Break-glass access owes a review after the fact, tracked until someone does it.
    CREATE TABLE reviews (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      grant_id uuid NOT NULL UNIQUE REFERENCES grants(id),
      owed_since timestamptz NOT NULL,
      reviewer_id uuid REFERENCES operators(id),
      reviewed_at timestamptz,
      verdict text,                    -- 'justified' or 'not_justified'
      notes text
    );
    CREATE INDEX reviews_open ON reviews(tenant_id) WHERE reviewed_at IS NULL;
  `.execute(db);
}
