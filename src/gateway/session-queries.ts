/** Reading recorded sessions for the API: lists per tenant, one session, its recording. */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { gatewayDb, type GatewaySessionRow } from '../store/schema-gateway.js';

export interface SessionView {
  id: string;
  live: boolean;
  grantId: string;
  targetId: string;
  targetName: string;
  operatorId: string;
  operatorEmail: string;
  account: string;
  kind: string;
  command: string | null;
  gatewayId: string;
  clientAddress: string | null;
  startedAt: Date;
  endedAt: Date | null;
  endReason: string | null;
  killRequestedAt: Date | null;
  recordingSha256: string | null;
  recordingBytes: number | null;
  /** When retention removed the recording (the row stays). */
  recordingDeletedAt: Date | null;
}

type Joined = GatewaySessionRow & { target_name: string; operator_email: string };

const view = (r: Joined): SessionView => ({
  id: r.id,
  live: r.ended_at === null,
  grantId: r.grant_id,
  targetId: r.target_id,
  targetName: r.target_name,
  operatorId: r.operator_id,
  operatorEmail: r.operator_email,
  account: r.account,
  kind: r.kind,
  command: r.command,
  gatewayId: r.gateway_id,
  clientAddress: r.client_address,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  endReason: r.end_reason,
  killRequestedAt: r.kill_requested_at,
  recordingSha256: r.recording_sha256,
  recordingBytes: r.recording_bytes === null ? null : Number(r.recording_bytes),
  recordingDeletedAt: r.recording_deleted_at,
});

function base(db: Kysely<Database>, tenantId: string) {
  return gatewayDb(db)
    .selectFrom('gateway_sessions as s')
    .innerJoin('targets as t', 't.id', 's.target_id')
    .innerJoin('operators as o', 'o.id', 's.operator_id')
    .selectAll('s')
    .select(['t.name as target_name', 'o.email as operator_email'])
    .where('s.tenant_id', '=', tenantId);
}

export async function listSessions(db: Kysely<Database>, tenantId: string, q: { live?: boolean; grantId?: string; limit: number }): Promise<SessionView[]> {
  let query = base(db, tenantId);
  if (q.live === true) query = query.where('s.ended_at', 'is', null);
  if (q.live === false) query = query.where('s.ended_at', 'is not', null);
  if (q.grantId) query = query.where('s.grant_id', '=', q.grantId);
  const rows = await query.orderBy('s.started_at', 'desc').limit(q.limit).execute();
  return rows.map((r) => view(r as Joined));
}

export async function getSession(db: Kysely<Database>, tenantId: string, id: string): Promise<{ view: SessionView; row: GatewaySessionRow } | null> {
  const r = await base(db, tenantId).where('s.id', '=', id).executeTakeFirst();
  return r ? { view: view(r as Joined), row: r as GatewaySessionRow } : null;
}
