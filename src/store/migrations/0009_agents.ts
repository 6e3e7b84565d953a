import { sql, type Kysely } from 'kysely';

/**
 * Linux endpoint agents (docs/agent.md): one-time enrolment tokens (hashed, expiring, single use),
 * enrolled agents and their Ed25519 public keys, the desired state each agent is served (one row
 * per server grant, with a per-agent version that only increases), the journal agents upload, and
 * the nonces of signed requests seen within the replay window.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE agents (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      name text NOT NULL,
      hostname text NOT NULL,
      -- SPKI PEM of the agent's Ed25519 key; the private key never leaves the host.
      public_key text NOT NULL,
      agent_version text NOT NULL,
      enrolled_at timestamptz NOT NULL,
      enrolment_token_id uuid NOT NULL,
      last_seen_at timestamptz,
      -- JSON the agent reports in its heartbeat (counts, applied version; never secrets).
      health text,
      -- Version of the desired state served to this agent: bumped with every change, never lowered.
      desired_version bigint NOT NULL DEFAULT 1,
      -- The newest desired-state version the agent says it applied, and the newest served to it.
      applied_version bigint NOT NULL DEFAULT -1,
      served_version bigint NOT NULL DEFAULT 0,
      revoked_at timestamptz,
      revoked_by uuid REFERENCES operators(id)
    );
    CREATE INDEX agents_tenant ON agents(tenant_id, name);

    CREATE TABLE agent_enrolment_tokens (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      name text,
      token_hash text NOT NULL UNIQUE,
      created_by uuid REFERENCES operators(id),
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      agent_id uuid REFERENCES agents(id)
    );

    CREATE TABLE agent_grants (
      grant_id uuid PRIMARY KEY REFERENCES grants(id),
      agent_id uuid NOT NULL REFERENCES agents(id),
      tenant_id uuid NOT NULL REFERENCES tenants(id),
      username text NOT NULL,
      -- The agent's grant spec as JSON, without the password.
      spec text NOT NULL,
      -- SecretBox ciphertext bound to the grant; erased once the agent reports the account set up.
      password_enc text,
      added_version bigint NOT NULL,
      removed_version bigint,
      removed_at timestamptz,
      -- The agent applied a desired state that listed this grant (so it must confirm its end).
      acknowledged boolean NOT NULL DEFAULT false,
      -- Removed before any desired state listing it was served: the agent cannot know it.
      never_served boolean NOT NULL DEFAULT false,
      -- What the agent last reported: sent, accepted, provisioned, active, ended, rejected.
      agent_status text NOT NULL,
      agent_message text,
      ended_at timestamptz,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    );
    CREATE INDEX agent_grants_listed ON agent_grants(agent_id) WHERE removed_at IS NULL;

    CREATE TABLE agent_journal (
      agent_id uuid NOT NULL REFERENCES agents(id),
      entry_id text NOT NULL,
      grant_id text,
      event text NOT NULL,
      message text NOT NULL,
      at timestamptz NOT NULL,
      verified text,
      received_at timestamptz NOT NULL,
      PRIMARY KEY (agent_id, entry_id)
    );
    CREATE INDEX agent_journal_grant ON agent_journal(grant_id);

    CREATE TABLE agent_request_nonces (
      agent_id uuid NOT NULL REFERENCES agents(id),
      nonce text NOT NULL,
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (agent_id, nonce)
    );
    CREATE INDEX agent_request_nonces_expiry ON agent_request_nonces(expires_at);
  `.execute(db);
}
