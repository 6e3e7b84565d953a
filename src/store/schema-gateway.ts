/**
 * Row types of the gateway tables (migration 0023_gateway), kept apart from schema.ts like the
 * agent tables: the gateway code widens the store's Kysely instance with `gatewayDb`.
 */
import type { ColumnType, Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { AgentTables } from './schema-agents.js';

type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
type NullableInt8 = ColumnType<string | null, string | number | null | undefined, string | number | null>;

export interface GatewayKeysTable {
  name: 'host' | 'user_ca';
  algorithm: string;
  public_key: string;
  private_key_enc: string;
  created_at: Timestamp;
}

export interface OperatorSshKeysTable {
  id: string;
  operator_id: string;
  name: string;
  public_key: string;
  fingerprint: string;
  created_at: Timestamp;
}

export interface GatewayDestinationsTable {
  target_id: string;
  tenant_id: string;
  host: string;
  port: number;
  host_key: string;
  updated_at: Timestamp;
}

/** shell and exec are terminal sessions; sftp and forward are relays logged line by line. */
export type GatewaySessionKind = 'shell' | 'exec' | 'sftp' | 'forward';

export interface GatewaySessionsTable {
  id: string;
  tenant_id: string;
  grant_id: string;
  target_id: string;
  operator_id: string;
  account: string;
  gateway_id: string;
  client_address: string | null;
  kind: GatewaySessionKind;
  command: string | null;
  recording_key_enc: string;
  started_at: Timestamp;
  seen_at: Timestamp;
  kill_requested_at: NullableTimestamp;
  kill_requested_by: string | null;
  ended_at: NullableTimestamp;
  end_reason: string | null;
  recording_sha256: string | null;
  recording_bytes: NullableInt8;
  /** Set when retention removed the recording (migration 0029). */
  recording_deleted_at: NullableTimestamp;
}

/** A tenant's gateway settings (migration 0029); no row: the defaults. */
export interface GatewaySettingsTable {
  tenant_id: string;
  recording_retention_days: number;
  updated_at: Timestamp;
}

/** Command lines typed at a shell prompt and echoed by the host (migration 0028). */
export interface GatewaySessionCommandsTable {
  id: ColumnType<string, never, never>;
  tenant_id: string;
  session_id: string;
  ordinal: number;
  offset_ms: number;
  text: string;
}

export interface GatewayTables {
  gateway_keys: GatewayKeysTable;
  operator_ssh_keys: OperatorSshKeysTable;
  gateway_destinations: GatewayDestinationsTable;
  gateway_sessions: GatewaySessionsTable;
  gateway_session_commands: GatewaySessionCommandsTable;
  gateway_settings: GatewaySettingsTable;
}

export interface GatewayDatabase extends Database, AgentTables, GatewayTables {}
export type GatewayDb = Kysely<GatewayDatabase>;
export type GatewayTx = Transaction<GatewayDatabase>;

export function gatewayDb(db: Kysely<Database>): GatewayDb {
  return db as unknown as GatewayDb;
}
/** A gateway-tables transaction as the rest of the store sees it (audit appends). */
export const storeTxOf = (tx: GatewayTx): Transaction<Database> => tx as unknown as Transaction<Database>;

export type GatewaySessionRow = Selectable<GatewaySessionsTable>;
export type GatewayDestinationRow = Selectable<GatewayDestinationsTable>;
export type OperatorSshKeyRow = Selectable<OperatorSshKeysTable>;
