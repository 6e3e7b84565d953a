/** `timebox audit list | export | verify`. */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { apiPages, apiPost, apiStream, type Query } from '../api-client.js';
import type { AuditEvent, VerifyReport } from '../api-types.js';
import { intArg, isoArg } from '../args.js';
import { connect } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { clean, print, printJson, table } from '../output.js';

interface FilterOptions {
  action?: string;
  since?: string;
}

const filterQuery = (o: FilterOptions): Query => ({ action: o.action, since: o.since });
const who = (type: string, id: string | null) => (id ? `${type}:${id.slice(0, 8)}` : type);

function withFilters(cmd: Command): Command {
  return cmd
    .option('--action <action>', 'only this action, e.g. grant.revoked, or a prefix such as grant.*')
    .option('--since <iso>', 'only events at or after this ISO 8601 time', isoArg);
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log');

  withFilters(audit.command('list').description('recent audit events, newest first'))
    .option('--limit <n>', 'how many events (default 50)', intArg(1, 100_000), 50)
    .option('--json', 'machine-readable output')
    .action(async (opts: FilterOptions & { limit: number }, cmd: Command) => {
      const ctx = await connect(cmd);
      const page = await apiPages<AuditEvent>(ctx.conn, await ctx.tenantPath('/audit'), filterQuery(opts), opts.limit);
      if (ctx.json) return printJson(page);
      table(
        ['SEQ', 'AT', 'ACTION', 'ACTOR', 'SUBJECT', 'REASON'],
        page.items.map((e) => [e.seq, e.at, e.action, who(e.actor_type, e.actor_id), who(e.subject_type, e.subject_id), e.reason]),
        'No audit events match.',
      );
    });

  withFilters(audit.command('export').description('every event of the tenant as JSON lines, oldest first, with hashes'))
    .option('--out <file>', 'write to this file (created 0600) instead of stdout')
    .option('--json', 'with --out: print a machine-readable summary')
    .action(async (opts: FilterOptions & { out?: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const path = await ctx.tenantPath('/audit/export');
      if (!opts.out) {
        await apiStream(ctx.conn, path, filterQuery(opts), process.stdout);
        return;
      }
      const file = createWriteStream(opts.out, { mode: 0o600 });
      const opened = new Promise<void>((resolve, reject) => {
        file.once('open', () => resolve());
        file.once('error', reject);
      });
      let lines: number;
      try {
        await opened;
        lines = await apiStream(ctx.conn, path, filterQuery(opts), file);
        file.end();
        await finished(file);
      } catch (err) {
        file.destroy();
        // A half-written export is worse than none: it would look complete.
        await rm(opts.out, { force: true });
        if (err instanceof CliError) throw err;
        throw new CliError(`cannot write ${opts.out}: ${(err as Error).message}`);
      }
      if (ctx.json) printJson({ file: opts.out, events: lines });
      else print(`Exported ${lines} audit events to ${opts.out}`);
    });

  audit
    .command('verify')
    .description('check the whole hash chain (platform admins); exit code 1 when problems are found')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const report = await apiPost<VerifyReport>(ctx.conn, '/api/v1/audit/verify');
      if (!report.ok) process.exitCode = ExitCode.failure;
      if (ctx.json) return printJson(report);
      if (report.ok) {
        const head = report.head ? `; head seq ${report.head.seq}, hash ${report.head.hash}` : '';
        print(`Audit chain intact: ${report.checked} events checked${head}.`);
        return;
      }
      for (const p of report.problems) print(`seq ${clean(p.seq)}: ${clean(p.problem)}`);
      print(`${report.problems.length}${report.truncated ? '+' : ''} problem(s) found in ${report.checked} events checked${report.truncated ? ' (list truncated)' : ''}.`);
    });
}
