/**
 * Row types of the agent tables (migration 0009_agents), kept apart from schema.ts until they are
 * merged into `Database` (`extends AgentTables`). Until then the agent code widens the store's
 * Kysely instance with `AgentsDatabase` (`agentsDb`).
 */
import type { ColumnType, Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from './schema.js';

type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
/** int8 comes back as a string from node-postgres; versions are small enough for Number(). */
type Int8 = ColumnType<string, string | number | bigint | undefined, string | number | bigint>;
type NullableInt8 = ColumnType<string | null, string | number | bigint | null | undefined, string | number | bigint | null>;

export interface AgentsTable {
  id: string;
  tenant_id: string;
  name: string;
  hostname: string;
  public_key: string;
  agent_version: string;
  enrolled_at: Timestamp;
  enrolment_token_id: string;
  last_seen_at: NullableTimestamp;
  health: string | null;
  desired_version: Int8;
  applied_version: Int8;
  served_version: Int8;
  revoked_at: NullableTimestamp;
  revoked_by: string | null;
}

export interface AgentEnrolmentTokensTable {
  id: string;
  tenant_id: string;
  name: string | null;
  token_hash: string;
  created_by: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  agent_id: string | null;
}

export type AgentGrantStatus = 'sent' | 'accepted' | 'provisioned' | 'active' | 'ended' | 'rejected';

export interface AgentGrantsTable {
  grant_id: string;
  agent_id: string;
  tenant_id: string;
  username: string;
  spec: string;
  password_enc: string | null;
  added_version: Int8;
  removed_version: NullableInt8;
  removed_at: NullableTimestamp;
  acknowledged: ColumnType<boolean, boolean | undefined, boolean>;
  never_served: ColumnType<boolean, boolean | undefined, boolean>;
  agent_status: AgentGrantStatus;
  agent_message: string | null;
  ended_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AgentJournalTable {
  agent_id: string;
  entry_id: string;
  grant_id: string | null;
  event: string;
  message: string;
  at: Timestamp;
  verified: string | null;
  received_at: Timestamp;
}

export interface AgentRequestNoncesTable {
  agent_id: string;
  nonce: string;
  expires_at: Timestamp;
}

export interface AgentTables {
  agents: AgentsTable;
  agent_enrolment_tokens: AgentEnrolmentTokensTable;
  agent_grants: AgentGrantsTable;
  agent_journal: AgentJournalTable;
  agent_request_nonces: AgentRequestNoncesTable;
}

/** The store's tables plus these; becomes plain `Database` once the lead merges the interfaces. */
export type AgentsDatabase = Database & AgentTables;
export type AgentsDb = Kysely<AgentsDatabase>;
export type AgentsTx = Transaction<AgentsDatabase>;

/** The store's Kysely instance (or a transaction) seen with the agent tables (same object; types only). */
export function agentsDb(db: Transaction<Database>): AgentsTx;
export function agentsDb(db: Kysely<Database>): AgentsDb;
export function agentsDb(db: Kysely<Database>): AgentsDb {
  return db as unknown as AgentsDb;
}
/** An agent-tables transaction as the rest of the store sees it (audit appends). */
export const storeTx = (tx: AgentsTx): Transaction<Database> => tx as unknown as Transaction<Database>;

export type AgentRow = Selectable<AgentsTable>;
export type AgentGrantRow = Selectable<AgentGrantsTable>;
export type AgentEnrolmentTokenRow = Selectable<AgentEnrolmentTokensTable>;
