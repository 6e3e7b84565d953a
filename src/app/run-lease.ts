/**
 * A lease row in `settings`: one holder per scope across processes (the reconciler runs once at a
 * time), renewed while the run lasts; a holder that dies lets it lapse.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { AppDeps } from './deps.js';

const RUN_LEASE_MS = 120_000;

/** A lease row in `settings`: one holder per scope across processes; lapses if the holder dies. */
export function runLease(
  deps: Pick<AppDeps, 'db' | 'clock' | 'workerId'>,
  key: string,
  /** For a holder that is one per process: a restart of the same server (worker id) takes the lease back at once. */
  opts: { onePerProcess?: boolean } = {},
) {
  const owner = `${deps.workerId}:${randomUUID()}`;
  const ownPrefix = opts.onePerProcess ? `${deps.workerId}:` : null;
  const value = () => JSON.stringify({ owner, until: new Date(deps.clock.now().getTime() + RUN_LEASE_MS).toISOString() });
  let renewedAt = 0;
  const lease = {
    async acquire(): Promise<boolean> {
      const now = deps.clock.now().toISOString();
      const r = await sql<{ key: string }>`
        INSERT INTO settings (key, value) VALUES (${key}, ${value()}::jsonb)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
        WHERE (settings.value->>'until')::timestamptz < ${now}::timestamptz OR settings.value->>'owner' = ${owner}
          OR (${ownPrefix}::text IS NOT NULL AND starts_with(settings.value->>'owner', ${ownPrefix}::text))
        RETURNING key`.execute(deps.db);
      renewedAt = Date.now();
      return r.rows.length === 1;
    },
    /** Renews when a third of the lease has passed (real time: a run's length is real). */
    async keep(): Promise<boolean> {
      if (Date.now() - renewedAt < RUN_LEASE_MS / 3) return true;
      const r = await sql<{ key: string }>`
        UPDATE settings SET value = ${value()}::jsonb WHERE key = ${key} AND value->>'owner' = ${owner} RETURNING key`.execute(deps.db);
      renewedAt = Date.now();
      return r.rows.length === 1;
    },
    async release(): Promise<void> {
      await sql`DELETE FROM settings WHERE key = ${key} AND value->>'owner' = ${owner}`.execute(deps.db);
    },
  };
  return lease;
}
