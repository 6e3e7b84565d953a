/**
 * What one full lifecycle (request -> inline activation -> expiry -> revoke + verify, fake
 * connector) costs PostgreSQL, counted by the server itself: the cluster logs every statement
 * (`log_statement = all`) while lifecycles run, and the counts are read from that log, so nothing
 * of the server's own work (scheduler, sealer, API) is missed or guessed. Writing transactions are
 * the xid counter's advance (a transaction gets an xid only when it writes); WAL flushes and their
 * time come from `pg_stat_wal` (`track_wal_io_timing`), at production durability. CPU time is
 * this process's (server and callers: one process) and the cluster's (postmaster, its live
 * processes and those it reaped), so the time of a lifecycle can be split into Node, PostgreSQL
 * and the commits' flushes. The database's own write work is counted too: rows inserted, updated
 * and deleted per table (pg_stat_user_tables) and WAL records and bytes (pg_stat_wal), beside the
 * same counts for one pgbench simple-update transaction on the same cluster, so the part of a
 * lifecycle's cost that is rows it must write durably can be told from the rest.
 *
 *   npx tsx bench/lifecycle-statements.ts [lifecycles=50] [in flight=1]
 *
 * A tool for profiling, not part of `npm run bench`.
 */
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { sql } from 'kysely';
import { startTimebox } from '../src/server/start.js';
import { startPostgres } from '../test/harness/postgres.js';
import { requestActivated, seedOperators, seededOperators } from './seed.js';
import { benchLogger, say, serverEnv, setupTenant } from './setup.js';
import { clusterCpuMs, postmasterPid } from './process-cpu.js';

const run = promisify(execFile);
const lifecycles = Number(process.argv[2] ?? 50);
const concurrency = Number(process.argv[3] ?? 1);
const probeName = 'bench-probe';

interface WalStats {
  xid: bigint;
  walSync: number;
  walSyncMs: number;
  commits: number;
  walRecords: number;
  walBytes: number;
}

/** Rows written per table of one database, from the statistics system (flushed first). */
async function rowsWritten(client: pg.Client): Promise<Map<string, { ins: number; upd: number; del: number; indexes: number }>> {
  await client.query('SELECT pg_stat_force_next_flush()');
  await client.query('SELECT pg_stat_clear_snapshot()');
  const r = await client.query<{ relname: string; ins: string; upd: string; del: string; indexes: number }>(
    `SELECT t.relname, t.n_tup_ins AS ins, t.n_tup_upd AS upd, t.n_tup_del AS del,
            (SELECT count(*)::int FROM pg_index i WHERE i.indrelid = t.relid) AS indexes
     FROM pg_stat_user_tables t`,
  );
  return new Map(r.rows.map((x) => [x.relname, { ins: Number(x.ins), upd: Number(x.upd), del: Number(x.del), indexes: x.indexes }]));
}

function rowsDelta(a: Awaited<ReturnType<typeof rowsWritten>>, b: Awaited<ReturnType<typeof rowsWritten>>) {
  const out: Array<{ table: string; ins: number; upd: number; del: number; indexes: number }> = [];
  for (const [table, after] of b) {
    const before = a.get(table) ?? { ins: 0, upd: 0, del: 0 };
    const d = { table, ins: after.ins - before.ins, upd: after.upd - before.upd, del: after.del - before.del, indexes: after.indexes };
    if (d.ins || d.upd || d.del) out.push(d);
  }
  return out.sort((x, y) => y.ins + y.upd + y.del - (x.ins + x.upd + x.del));
}

async function main() {
  const cluster = await startPostgres({ name: 'count', durable: true });
  const admin = new pg.Client({ connectionString: cluster.adminUrl, application_name: probeName });
  await admin.connect();
  try {
    await admin.query(`ALTER SYSTEM SET log_statement = 'all'`);
    await admin.query(`ALTER SYSTEM SET log_line_prefix = '%m [%p] %d %a: '`);
    await admin.query(`ALTER SYSTEM SET track_wal_io_timing = on`);
    await admin.query('SELECT pg_reload_conf()');
    const url = await cluster.createDatabase('lifecycles');
    const dbName = new URL(url).pathname.slice(1);

    const tb = await startTimebox({ env: serverEnv({ DATABASE_URL: url }), logger: benchLogger() });
    try {
      const t = await setupTenant(tb.url, tb.bootstrap, { maxDurationSeconds: 3600 });
      const scope = { ...t, tag: 'st' };
      await seedOperators(tb.store.db, scope, 1, lifecycles);
      const people = await seededOperators(tb.store.db, scope, lifecycles);
      // Let start-up work (first seal, checkpoints) settle before counting.
      await new Promise((r) => setTimeout(r, 2_000));

      const read = async (): Promise<WalStats> => {
        const r = await admin.query<{ xid: string; wal_sync: string; wal_sync_time: number; commits: string; wal_records: string; wal_bytes: string }>(
          `SELECT pg_current_xact_id()::text AS xid, w.wal_sync, w.wal_sync_time, w.wal_records::text AS wal_records, w.wal_bytes::text AS wal_bytes,
                  (SELECT xact_commit FROM pg_stat_database WHERE datname = $1) AS commits
           FROM pg_stat_wal w`,
          [dbName],
        );
        const row = r.rows[0]!;
        return {
          xid: BigInt(row.xid), walSync: Number(row.wal_sync), walSyncMs: row.wal_sync_time, commits: Number(row.commits),
          walRecords: Number(row.wal_records), walBytes: Number(row.wal_bytes),
        };
      };
      const inDb = new pg.Client({ connectionString: url, application_name: probeName });
      await inDb.connect();
      const rows0 = await rowsWritten(inDb);
      const logFrom = (await stat(cluster.logFile)).size;
      const postmaster = await postmasterPid(cluster);
      const pgCpu0 = await clusterCpuMs(postmaster);
      const nodeCpu0 = process.cpuUsage();
      const before = await read();
      const started = Date.now();

      let next = 0;
      const worker = async () => {
        for (let i = next++; i < people.length; i = next++) {
          const who = people[i]!;
          await requestActivated(tb, t, who, { durationSeconds: 1, reason: 'counting statements' });
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      for (;;) {
        const r = await sql<{ n: string }>`SELECT count(*) AS n FROM grants WHERE tenant_id = ${t.tenantId}::uuid AND state = 'revoked'`.execute(tb.store.db);
        if (Number(r.rows[0]!.n) >= lifecycles) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // The sealer's batches of these lifecycles' events belong to them too.
      await new Promise((r) => setTimeout(r, 1_500));
      // Backends report their row and WAL counts to the statistics at most every 10 s when idle.
      const cpuEnd = { node: process.cpuUsage(nodeCpu0), pg: (await clusterCpuMs(postmaster)) - pgCpu0, at: Date.now() };
      await new Promise((r) => setTimeout(r, 11_000));
      const after = await read();
      const rows = rowsDelta(rows0, await rowsWritten(inDb));
      await inDb.end();
      const nodeCpu = cpuEnd.node;
      const pgCpuMs = cpuEnd.pg;
      const elapsedMs = cpuEnd.at - started;
      const log = (await readFile(cluster.logFile, 'utf8')).slice(logFrom);
      if (process.env.STATEMENT_LOG) await writeFile(process.env.STATEMENT_LOG, log);
      const counts = countLog(log, dbName);
      const per = (n: number) => (n / lifecycles).toFixed(1);
      const writing = Number(after.xid - before.xid - 1n);
      const syncs = after.walSync - before.walSync;
      const syncMs = after.walSyncMs - before.walSyncMs;
      process.stdout.write(
        [
          `${lifecycles} lifecycles, ${concurrency} in flight, ${elapsedMs} ms (the last 2.7 s are waiting for expiry and seals)`,
          `statements per lifecycle: ${per(counts.statements)} (${counts.statements}; the count query of this tool excluded)`,
          `transactions per lifecycle: ${per(counts.transactions)} (BEGIN…COMMIT ${per(counts.explicit)}, single statements ${per(counts.transactions - counts.explicit)})`,
          `writing transactions (xids) per lifecycle: ${per(writing)} (${writing}; the whole cluster)`,
          `commits per lifecycle (pg_stat_database): ${per(after.commits - before.commits)}`,
          `WAL flushes per lifecycle: ${per(syncs)}, ${syncs ? (syncMs / syncs).toFixed(2) : '-'} ms each, ${(syncMs / lifecycles).toFixed(2)} ms per lifecycle`,
          `CPU per lifecycle: Node ${((nodeCpu.user + nodeCpu.system) / 1000 / lifecycles).toFixed(1)} ms, PostgreSQL ${(pgCpuMs / lifecycles).toFixed(1)} ms`,
          `WAL per lifecycle: ${per(after.walRecords - before.walRecords)} records, ${((after.walBytes - before.walBytes) / lifecycles / 1024).toFixed(1)} KiB (the whole cluster)`,
          `rows written per lifecycle: ${per(rows.reduce((n, r) => n + r.ins + r.upd + r.del, 0))}; index entries touched (rows inserted or updated × the table's indexes, an upper bound: HOT updates touch none): ${per(rows.reduce((n, r) => n + (r.ins + r.upd) * r.indexes, 0))}`,
          ...rows.map((r) => `  ${r.table.padEnd(28)} inserted ${per(r.ins).padStart(5)}  updated ${per(r.upd).padStart(5)}  deleted ${per(r.del).padStart(5)}  (${r.indexes} indexes)`),
          ...(await pgbenchWork(cluster.adminUrl, await cluster.createDatabase('pgbench'))),
          'statements by first words:',
          ...[...counts.byShape.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([k, n]) => `  ${per(n).padStart(6)}  ${k}`),
          '',
        ].join('\n'),
      );
    } finally {
      await tb.close();
    }
  } finally {
    await admin.end().catch(() => undefined);
    await cluster.destroy();
  }
}

/** One pgbench simple-update transaction's write work on the same cluster, for scale. */
async function pgbenchWork(adminUrl: string, url: string): Promise<string[]> {
  const u = new URL(url);
  const conn = ['-h', u.hostname, '-p', u.port, '-U', decodeURIComponent(u.username)];
  const db = decodeURIComponent(u.pathname.slice(1));
  const opts = { env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) }, timeout: 120_000, maxBuffer: 4 * 1024 * 1024 };
  await run('pgbench', ['-i', '-q', '-s', '1', ...conn, db], opts);
  const admin = new pg.Client({ connectionString: adminUrl, application_name: probeName });
  const inDb = new pg.Client({ connectionString: url, application_name: probeName });
  await admin.connect();
  await inDb.connect();
  try {
    const wal = async () => (await admin.query<{ r: string; b: string }>('SELECT wal_records::text AS r, wal_bytes::text AS b FROM pg_stat_wal')).rows[0]!;
    const rows0 = await rowsWritten(inDb);
    const w0 = await wal();
    const { stdout } = await run('pgbench', ['-N', '-c', '4', '-j', '2', '-T', '3', ...conn, db], opts);
    const w1 = await wal();
    const rows = rowsDelta(rows0, await rowsWritten(inDb));
    const n = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? 1);
    const per = (x: number) => (x / n).toFixed(2);
    return [
      `pgbench simple-update, per transaction (${n}): WAL ${per(Number(w1.r) - Number(w0.r))} records, ${((Number(w1.b) - Number(w0.b)) / n / 1024).toFixed(2)} KiB; rows written ${per(rows.reduce((x, r) => x + r.ins + r.upd + r.del, 0))}; index entries touched ≤ ${per(rows.reduce((x, r) => x + (r.ins + r.upd) * r.indexes, 0))}`,
    ];
  } finally {
    await admin.end();
    await inDb.end();
  }
}

/** Statements of `db` (not this tool's probe) and how they group into transactions, per backend. */
function countLog(log: string, db: string) {
  const line = /^\S+ \S+ \S+ \[(\d+)\] (\S*) ([^:]*): LOG:\s+(?:statement|execute [^:]*): (.*)$/;
  const inTx = new Map<string, boolean>();
  const byShape = new Map<string, number>();
  let statements = 0;
  let transactions = 0;
  let explicit = 0;
  // A statement's later lines carry no prefix: join them to its first.
  const joined: string[] = [];
  for (const l of log.split('\n')) {
    if (/^\d{4}-\d\d-\d\d /.test(l) || joined.length === 0) joined.push(l);
    else joined[joined.length - 1] += ` ${l}`;
  }
  for (const l of joined) {
    const m = line.exec(l);
    if (!m || m[2] !== db || m[3] === probeName) continue;
    const [, pid, , , text] = m as unknown as [string, string, string, string, string];
    const stmt = text.trim().toLowerCase();
    if (stmt.startsWith('select count(*) as n from grants')) continue;
    statements++;
    const shape = stmt.replace(/\s+/g, ' ').trim().split(" ").slice(0, Number(process.env.SHAPE_WORDS ?? 4)).join(' ');
    byShape.set(shape, (byShape.get(shape) ?? 0) + 1);
    if (stmt === 'begin') {
      inTx.set(pid, true);
      transactions++;
      explicit++;
    } else if (stmt === 'commit' || stmt === 'rollback') inTx.set(pid, false);
    else if (!inTx.get(pid)) transactions++;
  }
  return { statements, transactions, explicit, byShape };
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    say(`counting failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
