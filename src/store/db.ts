/**
 * Opens the store: PostgreSQL when a URL is given (production), otherwise the embedded PGlite
 * in a data directory. Both go through node-postgres so types and queueing are identical:
 * PGlite is a single connection, and pg.Pool with one client queues concurrent work instead
 * of interleaving it inside another request's transaction.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { migrateToLatest } from './migrator.js';

export interface StoreOptions {
  /** postgres://… — production store. */
  databaseUrl?: string;
  /** Folder of the embedded database (PGlite); 'memory://' for a throwaway one. */
  dataDir?: string;
  /** Connections to PostgreSQL (ignored for PGlite, which has one). */
  poolSize?: number;
  /**
   * Told when an idle PostgreSQL connection fails (a database restart, a failover, an
   * administrator ending sessions). The pool drops it and opens a new one on next use; without a
   * listener such an error would end the process.
   */
  onConnectionLost?: (err: Error) => void;
}

export interface Store {
  db: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

// int8 (bigserial, count(*)) stays a string so large numbers are never rounded.
// timestamptz and others keep pg's defaults (Date).

export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 10 });
    pool.on('error', (err) => opts.onConnectionLost?.(err));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await migrateToLatest(db);
    return { db, kind: 'postgres', close: () => db.destroy() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  const pglite = await PGlite.create(opts.dataDir ?? 'memory://');
  const pool = new pg.Pool({ ...createPgConfig(pglite), max: 1 } as pg.PoolConfig);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await migrateToLatest(db);
  return {
    db,
    kind: 'pglite',
    async close() {
      await db.destroy();
      await pglite.close();
    },
  };
}
