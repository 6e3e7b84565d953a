/**
 * A PostgreSQL database prepared as a Timebox target: a table, a group role that may read it,
 * and a service account with only the rights the connector needs (CREATEROLE, pg_signal_backend).
 * Role names are unique per call: roles are cluster-wide and test files share the cluster.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';

export interface PgTarget {
  db: TestDatabase;
  host: string;
  port: number;
  database: string;
  readers: string;
  writers: string;
  service: { user: string; password: string };
  /** The target config Timebox needs. */
  config: Record<string, unknown>;
  drop(): Promise<void>;
}

export async function preparePgTarget(adminUrl: string): Promise<PgTarget> {
  const db = await createTestDatabase(adminUrl);
  const id = randomBytes(4).toString('hex');
  const readers = `readers_${id}`;
  const writers = `writers_${id}`;
  const service = { user: `timebox_svc_${id}`, password: randomBytes(18).toString('base64url') };
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE orders (id int PRIMARY KEY, item text)`);
    await client.query(`INSERT INTO orders VALUES (1, 'widget'), (2, 'gadget')`);
    await client.query(`CREATE ROLE ${readers} NOLOGIN`);
    await client.query(`CREATE ROLE ${writers} NOLOGIN`);
    await client.query(`GRANT SELECT ON orders TO ${readers}`);
    await client.query(`GRANT SELECT, INSERT, UPDATE ON orders TO ${writers}`);
    await client.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(db.name)} TO PUBLIC`);
    await client.query(
      `CREATE ROLE ${service.user} LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(service.password)}`,
    );
    await client.query(`GRANT pg_signal_backend TO ${service.user}`);
  } finally {
    await client.end();
  }
  const u = new URL(db.url);
  const host = u.hostname;
  const port = Number(u.port);
  return {
    db,
    host,
    port,
    database: db.name,
    readers,
    writers,
    service,
    config: { host, port, database: db.name, user: service.user, password: service.password },
    async drop() {
      await db.drop();
    },
  };
}

/** Logs in with the system psql client over TCP (scram, VALID UNTIL apply) and runs one query. */
export function psql(
  t: { host: string; port: number; database: string },
  user: string,
  password: string,
  query: string,
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      ['-h', t.host, '-p', String(t.port), '-U', user, '-d', t.database, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', query],
      { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' }, timeout: 15_000 },
      (err, stdout, stderr) => resolve({ ok: !err, stdout: String(stdout).trim(), stderr: String(stderr).trim() }),
    );
  });
}
