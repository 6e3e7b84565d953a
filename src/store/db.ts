/**
 * Opens the store: PostgreSQL when a URL is given (production), otherwise the embedded PGlite
 * in a data directory. Both go through node-postgres so types and queueing are identical:
 * PGlite is a single connection, and pg.Pool with one client queues concurrent work instead
 * of interleaving it inside another request's transaction.
 */
import { Kysely } from 'kysely';
import { StoreDialect } from './store-dialect.js';
import pg from 'pg';
import type { Database } from './schema.js';
import { migrateToLatest } from './migrator.js';
import { pgliteWasmModule } from './pglite-module.js';
import { PreparedStatementClient } from './prepared-client.js';
import { lockDataDir } from './data-dir-lock.js';
import { StoreUnavailableError } from '../core/errors.js';

export interface StoreOptions {
  /** postgres://… — production store. */
  databaseUrl?: string;
  /** Folder of the embedded database (PGlite); 'memory://' for a throwaway one. */
  dataDir?: string;
  /** Connections to PostgreSQL (ignored for PGlite, which has one). */
  poolSize?: number;
  /**
   * Told once per connection when PostgreSQL ends it (a restart, a failover, an administrator
   * ending sessions), whether it was idle or in use. The pool drops it and opens a new one on next
   * use.
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

/**
 * PostgreSQL's default 128 MB of shared buffers is initialised by the WebAssembly build at every
 * start (about half a second of CPU on a small machine) and then stays resident. The embedded
 * store reads its files through the operating system's cache anyway; 32 MB holds the hot pages
 * of a trial installation.
 */
const PGLITE_SHARED_BUFFERS = '32MB';

export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.databaseUrl) {
    // Every connection is kept open (min = max): one opened when a burst of expiries arrives
    // costs its authentication (SCRAM) and its prepared statements while the grants wait, and
    // the pool would otherwise close idle ones after 10 s.
    const size = opts.poolSize ?? 10;
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: size, min: size, Client: PreparedStatementClient });
    reportLostConnections(pool, opts.onConnectionLost);
    const db = new Kysely<Database>({ dialect: new StoreDialect({ pool }) });
    await migrateToLatest(db);
    const warming = openAll(pool, size);
    // From here on, a connection that cannot be opened is a moment's outage (503), not a bug;
    // at start it stays the library's own error, which says where the database was sought.
    unavailableWhenUnreachable(pool);
    return {
      db,
      kind: 'postgres',
      async close() {
        await warming;
        await db.destroy();
      },
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  const dataDir = opts.dataDir ?? 'memory://';
  const unlock = dataDir.startsWith('memory://') ? async () => {} : await lockDataDir(dataDir);
  const pglite = await PGlite.create(dataDir, {
    pgliteWasmModule: await pgliteWasmModule(),
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`],
  }).catch(async (err: unknown) => {
    await unlock();
    throw err;
  });
  // Unnamed statements here: PGlite's node-postgres bridge loses its place after an error in a
  // named statement (the next query gets another's answer), and its parsing is in-process anyway.
  const pool = new pg.Pool({ ...createPgConfig(pglite), max: 1 } as pg.PoolConfig);
  const db = new Kysely<Database>({ dialect: new StoreDialect({ pool: yieldingBeforeEachUse(pool) }) });
  await migrateToLatest(db);
  return {
    db,
    kind: 'pglite',
    async close() {
      await db.destroy();
      await pglite.close();
      await unlock();
    },
  };
}

/**
 * pg.Pool listens for a connection's errors only while it is idle. A connection in use (a
 * transaction between two statements) that the database ends emits its error with no listener,
 * which would end the process. Every connection gets a listener for its whole life: its holder
 * meets the loss at its next statement, and the pool drops it when it is released.
 */
function reportLostConnections(pool: pg.Pool, onLost: ((err: Error) => void) | undefined): void {
  pool.on('connect', (client) => {
    let reported = false; // a terminated backend says so, then its socket ends: one report
    client.on('error', (err) => {
      if (reported) return;
      reported = true;
      onLost?.(err);
    });
  });
  pool.on('error', () => {}); // an idle connection's loss, already reported by its own listener
}

function unavailableWhenUnreachable(pool: pg.Pool): void {
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  Object.assign(pool, {
    // The promise form is the store's (Kysely's); pool.query's own callback form passes through.
    connect: (...args: unknown[]) =>
      args.length > 0
        ? connect(...args)
        : (connect() as Promise<pg.PoolClient>).catch((err: unknown) => {
            throw new StoreUnavailableError(err);
          }),
  });
}

/**
 * Opens the pool's connections in the background (the server is ready meanwhile). A failure is
 * left to the next use, which opens the connection again and reports its own error.
 */
async function openAll(pool: pg.Pool, size: number): Promise<void> {
  const opened = await Promise.allSettled(Array.from({ length: size }, () => pool.connect()));
  for (const o of opened) if (o.status === 'fulfilled') o.value.release();
}

/**
 * PGlite runs each query synchronously in this thread and answers through promises, never
 * through I/O: work that always has its next query ready (a burst of expiries) would keep the
 * event loop from timers and sockets for as long as it lasts, and the API would not answer. One
 * turn of the event loop before each connection use (each query or transaction) lets requests in;
 * pg.Pool then serves waiting users in order.
 */
function yieldingBeforeEachUse(pool: pg.Pool): pg.Pool {
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  return Object.assign(pool, {
    connect: async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return connect();
    },
  });
}
