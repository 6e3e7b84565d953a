/**
 * The rows of recorded sessions: opened and closed with an audit event in the same transaction;
 * the event closing a session carries the recording's SHA-256 and size. A session whose gateway
 * died is closed as abnormal by the next gateway that starts or sweeps, with the hash and size
 * of what the recording holds up to its last flush.
 */
import { randomBytes, createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import { gatewayDb, storeTxOf, type GatewaySessionKind, type GatewaySessionRow } from '../store/schema-gateway.js';
import { openRecording } from './recording-format.js';
import type { RecordingStore } from './recording-store.js';

export const END_REASONS = ['client_closed', 'host_closed', 'grant_ended', 'grant_revoked', 'killed', 'signed_out', 'gateway_stopped', 'gateway_died', 'error'] as const;
export type EndReason = (typeof END_REASONS)[number];

export interface SessionsDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  audit: AuditLog;
  clock: Clock;
  recordings: RecordingStore;
}

const keyContext = (sessionId: string) => `gateway-session:${sessionId}:recording-key`;

export interface OpenSession {
  id: string;
  tenantId: string;
  grantId: string;
  targetId: string;
  operatorId: string;
  account: string;
  gatewayId: string;
  clientAddress: string | null;
  kind: GatewaySessionKind;
  command: string | null;
}

/** The row of a session opened under `access` (a grant's target and account) on this gateway. */
export function sessionOf(
  id: string,
  gatewayId: string,
  r: { kind: GatewaySessionKind; command: string | null; operatorId: string; clientAddress: string | null; access: { tenantId: string; grantId: string; targetId: string; account: string } },
): OpenSession {
  const { tenantId, grantId, targetId, account } = r.access;
  return { id, tenantId, grantId, targetId, account, gatewayId, operatorId: r.operatorId, clientAddress: r.clientAddress, kind: r.kind, command: r.command };
}

/** Records the session and returns its fresh recording key (kept wrapped in the row). */
export async function openSessionRow(deps: SessionsDeps, s: OpenSession): Promise<Buffer> {
  const key = randomBytes(32);
  const now = deps.clock.now();
  await gatewayDb(deps.db)
    .transaction()
    .execute(async (tx) => {
      await tx
        .insertInto('gateway_sessions')
        .values({
          id: s.id,
          tenant_id: s.tenantId,
          grant_id: s.grantId,
          target_id: s.targetId,
          operator_id: s.operatorId,
          account: s.account,
          gateway_id: s.gatewayId,
          client_address: s.clientAddress,
          kind: s.kind,
          command: s.command,
          recording_key_enc: deps.secrets.encrypt(key.toString('base64'), keyContext(s.id)),
          started_at: now,
          seen_at: now,
        })
        .execute();
      await deps.audit.append(storeTxOf(tx), {
        tenantId: s.tenantId,
        actor: { type: 'operator', id: s.operatorId },
        action: 'gateway.session_started',
        subject: { type: 'gateway_session', id: s.id },
        after: { grantId: s.grantId, targetId: s.targetId, account: s.account, gatewayId: s.gatewayId, kind: s.kind, command: s.command, clientAddress: s.clientAddress },
      });
    });
  return key;
}

export function recordingKeyOf(deps: Pick<SessionsDeps, 'secrets'>, row: Pick<GatewaySessionRow, 'id' | 'recording_key_enc'>): Buffer {
  return Buffer.from(deps.secrets.decrypt(row.recording_key_enc, keyContext(row.id)), 'base64');
}

type SessionEnd = { reason: EndReason; sha256: string; bytes: number; complete: boolean; detail?: string };

/**
 * A host that closed the connection because the grant ended (the agent removed the account,
 * often before the watch's next poll) closed it for the grant: the session is recorded as ended
 * or revoked, as the watch would have, so the reason an auditor reads does not depend on which
 * side was quicker.
 */
export function hostClosedWhy(end: SessionEnd, grant: { state: string; expires_at: Date | null } | undefined, now: Date): SessionEnd {
  if (!grant || grant.state === 'active') return end;
  const ended = !grant.expires_at || grant.expires_at.getTime() <= now.getTime();
  return { ...end, reason: ended ? 'grant_ended' : 'grant_revoked', detail: end.detail ?? 'the host closed the connection first' };
}

/** Closes a live session once (a second close changes nothing and writes no event). */
export async function closeSessionRow(
  deps: SessionsDeps,
  id: string,
  end: SessionEnd,
): Promise<boolean> {
  const now = deps.clock.now();
  return gatewayDb(deps.db)
    .transaction()
    .execute(async (tx) => {
      const row = await tx.selectFrom('gateway_sessions').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (!row || row.ended_at) return false;
      if (end.reason === 'host_closed') {
        const grant = await tx.selectFrom('grants').select(['state', 'expires_at']).where('id', '=', row.grant_id).executeTakeFirst();
        end = hostClosedWhy(end, grant, now);
      }
      await tx
        .updateTable('gateway_sessions')
        .set({ ended_at: now, end_reason: end.reason, recording_sha256: end.sha256, recording_bytes: end.bytes })
        .where('id', '=', id)
        .execute();
      await deps.audit.append(storeTxOf(tx), {
        tenantId: row.tenant_id,
        actor: end.reason === 'killed' && row.kill_requested_by ? { type: 'operator', id: row.kill_requested_by } : { type: 'system', id: null },
        action: 'gateway.session_ended',
        subject: { type: 'gateway_session', id },
        after: {
          grantId: row.grant_id,
          reason: end.reason,
          abnormal: end.reason === 'gateway_died',
          recordingSha256: end.sha256,
          recordingBytes: end.bytes,
          recordingComplete: end.complete,
          durationMs: now.getTime() - row.started_at.getTime(),
          ...(end.detail ? { detail: end.detail } : {}),
        },
      });
      return true;
    });
}

/** What a recording holds: the asciicast text up to the last whole chunk, and whether it was closed. */
export async function readRecording(deps: Pick<SessionsDeps, 'secrets' | 'recordings'>, row: Pick<GatewaySessionRow, 'id' | 'recording_key_enc'>) {
  const file = await deps.recordings.read(row.id);
  if (!file) return { plaintext: Buffer.alloc(0), complete: false, chunks: 0, tornBytes: 0 };
  return openRecording(recordingKeyOf(deps, row), row.id, file);
}

/**
 * Ends, as abnormal, live sessions of `gatewayId` (at its start: whatever it held when it died)
 * or of any gateway not seen since `staleBefore`.
 */
export async function closeAbandonedSessions(deps: SessionsDeps, which: { gatewayId: string } | { staleBefore: Date }): Promise<number> {
  let q = gatewayDb(deps.db).selectFrom('gateway_sessions').select(['id', 'recording_key_enc']).where('ended_at', 'is', null);
  q = 'gatewayId' in which ? q.where('gateway_id', '=', which.gatewayId) : q.where('seen_at', '<', which.staleBefore);
  let closed = 0;
  for (const row of await q.execute()) {
    const rec = await readRecording(deps, row).catch(() => null);
    const text = rec?.plaintext ?? Buffer.alloc(0);
    const ok = await closeSessionRow(deps, row.id, {
      reason: 'gateway_died',
      sha256: createHash('sha256').update(text).digest('hex'),
      bytes: text.length,
      complete: false,
      detail: rec ? `recording readable up to its last flush (${rec.chunks} chunks)` : 'recording unreadable',
    });
    if (ok) closed++;
  }
  return closed;
}

export async function requestKill(deps: Pick<SessionsDeps, 'db' | 'clock' | 'audit'>, tenantId: string, id: string, by: string): Promise<'requested' | 'not_live' | 'not_found'> {
  return gatewayDb(deps.db)
    .transaction()
    .execute(async (tx) => {
      const row = await tx.selectFrom('gateway_sessions').select(['ended_at', 'kill_requested_at']).where('id', '=', id).where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
      if (!row) return 'not_found';
      if (row.ended_at) return 'not_live';
      if (!row.kill_requested_at) {
        await tx.updateTable('gateway_sessions').set({ kill_requested_at: deps.clock.now(), kill_requested_by: by }).where('id', '=', id).execute();
        await deps.audit.append(storeTxOf(tx), {
          tenantId,
          actor: { type: 'operator', id: by },
          action: 'gateway.session_kill_requested',
          subject: { type: 'gateway_session', id },
        });
      }
      return 'requested';
    });
}
