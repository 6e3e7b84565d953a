import { sql, type Kysely } from 'kysely';

/** One PostgreSQL dialect, applied to PGlite and to PostgreSQL alike. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE tenants (
      id uuid PRIMARY KEY,
      slug text NOT NULL UNIQUE,
      name text NOT NULL,
      created_at timestamptz NOT NULL
    );

    CREATE TABLE operators (
      id uuid PRIMARY KEY,
      email text NOT NULL UNIQUE,
      display_name text NOT NULL,
      password_hash text,
      platform_admin boolean NOT NULL DEFAULT false,
      disabled boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL
    );

    CREATE TABLE memberships (
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      operator_id uuid NOT NULL REFERENCES operators(id),
      roles text[] NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (tenant_id, operator_id)
    );

    CREATE TABLE api_tokens (
      id uuid PRIMARY KEY,
      operator_id uuid NOT NULL REFERENCES operators(id),
      name text NOT NULL,
      kind text NOT NULL,               -- 'api' or 'session'
      token_hash text NOT NULL UNIQUE,  -- sha256 of a 256-bit random token
      csrf_hash text,                   -- sessions used from a browser cookie
      created_at timestamptz NOT NULL,
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    CREATE INDEX api_tokens_operator ON api_tokens(operator_id);

    CREATE TABLE targets (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      name text NOT NULL,
      kind text NOT NULL,
      config_enc text NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      UNIQUE (tenant_id, name)
    );

    CREATE TABLE entitlements (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      target_id uuid NOT NULL REFERENCES targets(id),
      external_id text NOT NULL,
      display_name text NOT NULL,
      created_at timestamptz NOT NULL,
      UNIQUE (target_id, external_id)
    );

    CREATE TABLE policies (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      name text NOT NULL,
      target_id uuid REFERENCES targets(id),          -- null: any target of the tenant
      entitlements text[],                            -- null: any entitlement of the target
      requester_roles text[] NOT NULL,
      max_duration_seconds integer NOT NULL,
      default_duration_seconds integer NOT NULL,
      reason_min_length integer NOT NULL DEFAULT 10,
      pending_ttl_seconds integer NOT NULL DEFAULT 86400,
      created_at timestamptz NOT NULL,
      UNIQUE (tenant_id, name)
    );

    -- One per person per target: the account is never shared, re-enabled per grant.
    CREATE TABLE jit_accounts (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      target_id uuid NOT NULL REFERENCES targets(id),
      operator_id uuid NOT NULL REFERENCES operators(id),
      username text NOT NULL,
      status text NOT NULL,                 -- 'provisioning', 'enabled', 'disabled'
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      last_grant_id uuid,
      -- cross-process lease: only one worker touches one account on its target at a time
      lease_owner text,
      lease_until timestamptz,
      UNIQUE (target_id, operator_id),
      UNIQUE (target_id, username)
    );

    CREATE TABLE access_requests (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      requester_id uuid NOT NULL REFERENCES operators(id),
      target_id uuid NOT NULL REFERENCES targets(id),
      policy_id uuid NOT NULL REFERENCES policies(id),
      entitlements text[] NOT NULL,
      duration_seconds integer NOT NULL,
      reason text NOT NULL,
      ticket text,
      requested_start_at timestamptz,
      created_at timestamptz NOT NULL
    );

    CREATE TABLE grants (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      request_id uuid NOT NULL REFERENCES access_requests(id),
      jit_account_id uuid NOT NULL REFERENCES jit_accounts(id),
      target_id uuid NOT NULL REFERENCES targets(id),
      operator_id uuid NOT NULL REFERENCES operators(id),
      entitlements text[] NOT NULL,
      state text NOT NULL,
      version integer NOT NULL,
      duration_seconds integer NOT NULL,
      requested_start_at timestamptz,
      pending_expires_at timestamptz,
      starts_at timestamptz,
      expires_at timestamptz,
      revoked_at timestamptz,
      revoke_attempts integer NOT NULL DEFAULT 0,
      end_reason text,
      last_error text,
      handle jsonb,
      credential_enc text,          -- shown once to the owner, then erased
      credential_revealed_at timestamptz,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    );
    CREATE INDEX grants_tenant_created ON grants(tenant_id, created_at DESC, id DESC);
    CREATE INDEX grants_account_live ON grants(jit_account_id) WHERE state IN ('activating','active','revoking','revoke_failed');

    -- Durable scheduler: due work is claimed with FOR UPDATE SKIP LOCKED.
    CREATE TABLE scheduled_work (
      id bigserial PRIMARY KEY,
      kind text NOT NULL,
      grant_id uuid NOT NULL REFERENCES grants(id),
      due_at timestamptz NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      locked_by text,
      locked_until timestamptz,
      last_error text,
      created_at timestamptz NOT NULL,
      UNIQUE (grant_id, kind)
    );
    CREATE INDEX scheduled_work_due ON scheduled_work(due_at);

    -- Append-only, hash-chained. seq orders the chain.
    CREATE TABLE audit_events (
      seq bigint PRIMARY KEY,
      id uuid NOT NULL UNIQUE,
      at timestamptz NOT NULL,
      tenant_id uuid,
      actor_type text NOT NULL,      -- 'operator', 'system', 'token'
      actor_id text,
      action text NOT NULL,
      subject_type text NOT NULL,
      subject_id text,
      reason text,
      before jsonb,
      after jsonb,
      prev_hash text NOT NULL,
      hash text NOT NULL
    );
    CREATE INDEX audit_events_tenant ON audit_events(tenant_id, seq DESC);

    CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION 'audit_events is append-only';
    END;
    $$ LANGUAGE plpgsql;

    CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

    -- Open problems a person must look at (revoke_failed...), resolved when the cause is gone.
    CREATE TABLE alerts (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      grant_id uuid REFERENCES grants(id),
      severity text NOT NULL,
      message text NOT NULL,
      created_at timestamptz NOT NULL,
      resolved_at timestamptz
    );
    CREATE INDEX alerts_open ON alerts(tenant_id) WHERE resolved_at IS NULL;

    CREATE TABLE settings (
      key text PRIMARY KEY,
      value jsonb NOT NULL
    );
  `.execute(db);
}
