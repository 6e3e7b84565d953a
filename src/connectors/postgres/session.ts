/** Checked-out connections and transactions on the instance's small pool. */
import type pg from 'pg';

// A connection that dies while checked out emits 'error'; unhandled, that would crash the
// process. The failure already surfaces through the pending or next query, so ignore it here.
const ignore = () => {};

export async function withClient<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  client.on('error', ignore);
  let destroy = false;
  try {
    return await fn(client);
  } catch (err) {
    // Unknown connection state after a failure: don't hand it to the next caller.
    destroy = true;
    throw err;
  } finally {
    client.off('error', ignore);
    client.release(destroy);
  }
}

export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(ignore);
      throw err;
    }
  });
}
