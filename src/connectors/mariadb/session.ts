/** Checked-out connections and the per-account lock on the instance's small pool. */
import type { Pool, PoolConnection } from 'mysql2/promise';
import { transient } from '../../core/errors.js';
import { rows } from './catalog.js';

export async function withConnection<T>(pool: Pool, fn: (c: PoolConnection) => Promise<T>): Promise<T> {
  const c = await pool.getConnection();
  let broken = false;
  try {
    return await fn(c);
  } catch (err) {
    // Unknown connection state after a failure: don't hand it to the next caller.
    broken = true;
    throw err;
  } finally {
    if (broken) c.destroy();
    else c.release();
  }
}

/**
 * Serialises grant/revoke of one account across every Timebox server reaching this MariaDB
 * (DDL commits on its own, so there is no transaction to lean on). Sessions work in UTC (instance.ts).
 */
export async function withAccountLock<T>(pool: Pool, user: string, fn: (c: PoolConnection) => Promise<T>): Promise<T> {
  return withConnection(pool, async (c) => {
    const key = `timebox:user:${user}`;
    const [got] = await rows<{ ok: number | null }>(c, 'SELECT GET_LOCK(?, 10) AS ok', [key]);
    if (got?.ok !== 1) throw transient(`another change of account "${user}" is in progress`);
    try {
      return await fn(c);
    } finally {
      await rows(c, 'SELECT RELEASE_LOCK(?)', [key]);
    }
  });
}
