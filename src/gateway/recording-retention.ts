/**
 * How long a tenant keeps gateway recordings, and the sweeper that removes older ones. The
 * recording file goes; the session row stays (who, when, the hash in its audit events) and says
 * when its recording was deleted. One sweeper runs per deployment (a lease), hourly by default.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { runLease } from '../app/run-lease.js';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { RETENTION_DAYS } from '../core/recording-retention.js';
import type { Database } from '../store/schema.js';
import { gatewayDb, storeTxOf } from '../store/schema-gateway.js';
import type { RecordingStore } from './recording-store.js';

const DAY_MS = 86_400_000;
/** Recordings removed per pass: a long backlog goes in several passes, none holding the lease long. */
const BATCH = 200;

export interface RetentionDeps {
  db: Kysely<Database>;
  clock: Clock;
  audit: AuditLog;
}

export interface GatewaySettingsView {
  recordingRetentionDays: number;
  updatedAt: Date | null;
}

export async function getGatewaySettings(deps: Pick<RetentionDeps, 'db'>, tenantId: string): Promise<GatewaySettingsView> {
  const row = await gatewayDb(deps.db).selectFrom('gateway_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  return { recordingRetentionDays: row?.recording_retention_days ?? RETENTION_DAYS.default, updatedAt: row?.updated_at ?? null };
}

/** Bounds are checked at the API edge (zod) and again by the table's CHECK. */
export async function setGatewaySettings(deps: RetentionDeps, actorId: string, tenantId: string, input: { recordingRetentionDays: number }): Promise<GatewaySettingsView> {
  const now = deps.clock.now();
  return gatewayDb(deps.db)
    .transaction()
    .execute(async (tx) => {
      const before = await tx.selectFrom('gateway_settings').select('recording_retention_days').where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
      await tx
        .insertInto('gateway_settings')
        .values({ tenant_id: tenantId, recording_retention_days: input.recordingRetentionDays, updated_at: now })
        .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ recording_retention_days: input.recordingRetentionDays, updated_at: now }))
        .execute();
      await deps.audit.append(storeTxOf(tx), {
        tenantId,
        actor: { type: 'operator', id: actorId },
        action: 'gateway.settings_updated',
        subject: { type: 'tenant', id: tenantId },
        before: { recordingRetentionDays: before?.recording_retention_days ?? RETENTION_DAYS.default },
        after: { recordingRetentionDays: input.recordingRetentionDays },
      });
      return { recordingRetentionDays: input.recordingRetentionDays, updatedAt: now };
    });
}

/**
 * One pass: removes the recordings of sessions that ended more than their tenant's retention ago.
 * The file goes first, then the row is marked and audited: a crash between leaves a row the next
 * pass marks (removing a missing file is no error). Returns how many were removed.
 */
export async function sweepRecordings(deps: RetentionDeps & { recordings: RecordingStore; log: Logger }): Promise<number> {
  const db = gatewayDb(deps.db);
  const now = deps.clock.now();
  const tenants = await db
    .selectFrom('tenants as t')
    .leftJoin('gateway_settings as s', 's.tenant_id', 't.id')
    .select(['t.id', 's.recording_retention_days'])
    .execute();
  let removed = 0;
  for (const t of tenants) {
    const days = t.recording_retention_days ?? RETENTION_DAYS.default;
    const before = new Date(now.getTime() - days * DAY_MS);
    const due = await db
      .selectFrom('gateway_sessions')
      .select(['id', 'ended_at', 'recording_sha256'])
      .where('tenant_id', '=', t.id)
      .where('recording_deleted_at', 'is', null)
      .where('ended_at', 'is not', null)
      .where('ended_at', '<', before)
      .orderBy('ended_at')
      .limit(BATCH - removed)
      .execute();
    for (const s of due) {
      await deps.recordings.remove(s.id);
      await db.transaction().execute(async (tx) => {
        const marked = await tx.updateTable('gateway_sessions').set({ recording_deleted_at: now }).where('id', '=', s.id).where('recording_deleted_at', 'is', null).executeTakeFirst();
        if (Number(marked.numUpdatedRows) !== 1) return;
        await deps.audit.append(storeTxOf(tx), {
          tenantId: t.id,
          actor: { type: 'system', id: null },
          action: 'gateway.recording_deleted',
          subject: { type: 'gateway_session', id: s.id },
          after: { reason: 'retention', retentionDays: days, endedAt: s.ended_at?.toISOString() ?? null, recordingSha256: s.recording_sha256 },
        });
        removed++;
      });
    }
    if (removed >= BATCH) break;
  }
  if (removed > 0) deps.log.info({ removed }, 'removed gateway recordings past their retention');
  return removed;
}

/** The sweeper: a pass every `everyMs` by whichever process holds the lease. */
export function createRetentionSweeper(deps: RetentionDeps & { recordings: RecordingStore; log: Logger; workerId: string; everyMs?: number }) {
  const lease = runLease(deps, 'gateway.recording_retention', { onePerProcess: true });
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> = Promise.resolve();
  const pass = async () => {
    if (!(await lease.acquire())) return;
    // A full batch means more is due: go on while the lease holds.
    while ((await sweepRecordings(deps)) >= BATCH && (await lease.keep()));
  };
  return {
    start() {
      const tick = () => {
        running = pass()
          .catch((err: unknown) => deps.log.warn({ err }, 'removing recordings past their retention failed; retrying later'))
          .finally(() => {
            if (timer) timer = setTimeout(tick, deps.everyMs ?? 3_600_000);
          });
      };
      timer = setTimeout(tick, 60_000);
    },
    async stop() {
      const t = timer;
      timer = null;
      if (t) clearTimeout(t);
      await running;
      await lease.release().catch(() => {});
    },
  };
}
