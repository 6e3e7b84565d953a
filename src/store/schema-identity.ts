/** Row types of migration 0019 (invitations); merged into `Database`. */
import type { ColumnType, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;

export type InvitationKind = 'member' | 'reset';

export interface InvitationsTable {
  id: string;
  /** SHA-256 of the link's token: the token itself is shown or mailed once, never stored. */
  token_hash: string;
  email: string;
  /** 'member': join tenant_id with roles; 'reset': a platform administrator cleared the sign-in. */
  kind: InvitationKind;
  tenant_id: string | null;
  roles: string[];
  display_name: string | null;
  invited_by: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  used_by: string | null;
}

export interface IdentityTables {
  invitations: InvitationsTable;
}

export type InvitationRow = Selectable<InvitationsTable>;
