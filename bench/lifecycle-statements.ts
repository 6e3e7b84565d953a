/**
 * What one full lifecycle (request -> inline activation -> expiry -> revoke + verify, fake
 * connector) costs PostgreSQL, counted by the server itself: the cluster logs every statement
 * (`log_statement = all`) while lifecycles run, and the counts are read from that log, so nothing
 * of the server's own work (scheduler, sealer, API) is missed or guessed. Writing transactions are
 * the xid counter's advance (a transaction gets an xid only when it writes); WAL flushes and their
 * time come from `pg_stat_wal` (`track_wal_io_timing`), at production durability. CPU time is
 * this process's (server and callers: one process) and the cluster's (postmaster, its live
 * processes and those it reaped), so the time of a lifecycle can be split into Node, PostgreSQL
 * and the commits' flushes.
 *
 *   npx tsx bench/lifecycle-statements.ts [lifecycles=50] [in flight=1]
 *
 * A tool for profiling, not part of `npm run bench`.
 */
import { readFile, stat } from 'node:fs/promises';
import pg from 'pg';
import { sql } from 'kysely';
import { requestAccess } from '../src/app/request-access.js';
import { startTimebox } from '../src/server/start.js';
import { startPostgres } from '../test/harness/postgres.js';
import { ENTITLEMENT, seedOperators, seededOperators } from './seed.js';
import { benchLogger, say, serverEnv, setupTenant } from './setup.js';
import { clusterCpuMs, postmasterPid } from './process-cpu.js';

const lifecycles = Number(process.argv[2] ?? 50);
const concurrency = Number(process.argv[3] ?? 1);
const probeName = 'bench-probe';

interface WalStats {
  xid: bigint;
  walSync: number;
  walSyncMs: number;
  commits: number;
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
        const r = await admin.query<{ xid: string; wal_sync: string; wal_sync_time: number; commits: string }>(
          `SELECT pg_current_xact_id()::text AS xid, w.wal_sync, w.wal_sync_time,
                  (SELECT xact_commit FROM pg_stat_database WHERE datname = $1) AS commits
           FROM pg_stat_wal w`,
          [dbName],
        );
        const row = r.rows[0]!;
        return { xid: BigInt(row.xid), walSync: Number(row.wal_sync), walSyncMs: row.wal_sync_time, commits: Number(row.commits) };
      };
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
          const grant = await requestAccess(tb.deps, { type: 'operator', id: who.operatorId }, t.tenantId, who, {
            targetId: t.targetId,
            entitlements: [ENTITLEMENT],
            durationSeconds: 1,
            reason: 'counting statements',
          });
          if (grant.state === 'activating') await tb.scheduler.runNow(grant.id, 'activate');
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
      const after = await read();
      const nodeCpu = process.cpuUsage(nodeCpu0);
      const pgCpuMs = (await clusterCpuMs(postmaster)) - pgCpu0;
      const elapsedMs = Date.now() - started;
      const log = (await readFile(cluster.logFile, 'utf8')).slice(logFrom);
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
