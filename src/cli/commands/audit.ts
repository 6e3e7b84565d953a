/** `timebox audit list | export | verify`. */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { pathOf } from '../../api/endpoint.js';
import { endpoints } from '../../api/endpoints.js';
import { apiStream } from '../api-client.js';
import { intArg, isoArg } from '../args.js';
import { connect } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { clean, print, printJson, table } from '../output.js';

interface FilterOptions {
  action?: string;
  since?: string;
}

const filterQuery = (o: FilterOptions) => ({ action: o.action, since: o.since });
/** A person or thing as the list names it (an email, a target's name), else its kind and short id. */
const who = (type: string, id: string | null, name?: string | null) => name ?? (id ? `${type}:${id.slice(0, 8)}` : type);

/** What the event is about, by name: the target and account of a grant, the subject's own name. */
function subjectOf(e: { subject_type: string; subject_id: string | null; names: { person: string | null; target: string | null; account: string | null; subject: string | null } }): string {
  const n = e.names;
  if (n.subject) return `${e.subject_type} ${n.subject}`;
  const parts = [n.person, n.account && n.target ? `${n.account}@${n.target}` : n.target].filter((p): p is string => !!p);
  return parts.length ? `${e.subject_type} ${parts.join(' ')}` : who(e.subject_type, e.subject_id);
}

function withFilters(cmd: Command): Command {
  return cmd
    .option('--action <action>', 'only this action, e.g. grant.revoked, or a prefix such as grant.*')
    .option('--since <iso>', 'only events at or after this ISO 8601 time', isoArg);
}

/** How the server writes a checkpoint line: `{"checkpoint": …}`; every other line is an event. */
const CHECKPOINT_LINE = Buffer.from('{"checkpoint":');

/** Passes an export through unchanged, counting its event lines and its checkpoint lines. */
class ExportTally extends Transform {
  events = 0;
  checkpoints = 0;
  /** The start of the current line, up to the length that tells the two kinds apart. */
  #head = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(0x0a, from);
      const end = nl === -1 ? chunk.length : nl;
      if (this.#head.length < CHECKPOINT_LINE.length) {
        this.#head = Buffer.concat([this.#head, chunk.subarray(from, Math.min(end, from + CHECKPOINT_LINE.length))]).subarray(0, CHECKPOINT_LINE.length);
      }
      if (nl === -1) break;
      this.#count();
      from = nl + 1;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.#head.length) this.#count();
    done();
  }

  #count(): void {
    if (this.#head.equals(CHECKPOINT_LINE)) this.checkpoints++;
    else this.events++;
    this.#head = Buffer.alloc(0);
  }
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log');

  withFilters(audit.command('list').description('recent audit events, newest first'))
    .option('--limit <n>', 'how many events', intArg(1, 100_000), 50)
    .option('--json', 'machine-readable output')
    .action(async (opts: FilterOptions & { limit: number }, cmd: Command) => {
      const ctx = await connect(cmd);
      const page = await ctx.api.pages('listAudit', { params: { tenant: await ctx.tenant() }, query: filterQuery(opts) }, opts.limit);
      if (ctx.json) return printJson(page);
      table(
        ['SEQ', 'POS', 'AT', 'ACTION', 'ACTOR', 'SUBJECT', 'REASON'],
        page.items.map((e) => [e.seq, e.position ?? 'unsealed', e.at, e.action, who(e.actor_type, e.actor_id, e.names.actor), subjectOf(e), e.reason]),
        'No audit events match.',
      );
    });

  withFilters(audit.command('export').description('every event of the tenant as JSON lines, oldest first, with hashes'))
    .option('--out <file>', 'write to this file (created 0600) instead of stdout')
    .option('--json', 'with --out: print a machine-readable summary')
    .action(async (opts: FilterOptions & { out?: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const path = pathOf(endpoints.exportAudit.path, { tenant: await ctx.tenant() });
      if (!opts.out) {
        await apiStream(ctx.conn, path, filterQuery(opts), process.stdout);
        return;
      }
      const out = opts.out;
      if ((await stat(out).catch(() => null))?.isDirectory()) throw new CliError(`cannot write ${out}: it is a directory; name a file`);
      // Written beside it and renamed into place once complete: a failed export (a typo in the
      // tenant, an expired session, the server down) never touches an earlier file of that name.
      const partial = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString('hex')}.partial`);
      const file = createWriteStream(partial, { mode: 0o600, flags: 'wx' });
      const opened = new Promise<void>((resolve, reject) => {
        file.once('open', () => resolve());
        file.once('error', reject);
      });
      const tally = new ExportTally();
      const written = pipeline(tally, file);
      // Awaited below; a failure before then (the file cannot be opened) is handled there too.
      written.catch(() => undefined);
      try {
        await opened;
        await apiStream(ctx.conn, path, filterQuery(opts), tally);
        tally.end();
        await written;
        await rename(partial, out);
      } catch (err) {
        tally.destroy();
        file.destroy();
        // A half-written export is worse than none: it would look complete.
        await rm(partial, { force: true });
        if (err instanceof CliError) throw err;
        throw new CliError(`cannot write ${out}: ${(err as Error).message}`);
      }
      const { events, checkpoints } = tally;
      if (ctx.json) printJson({ file: opts.out, events, checkpoints });
      else print(`Exported ${events} audit event(s) and ${checkpoints} signed checkpoint(s) to ${opts.out}${checkpoints ? '' : ' (checkpoints are exported only without --action and --since, once the chain has one)'}`);
    });

  audit
    .command('verify')
    .description('check every chain against itself and the signed checkpoints (platform admins); exit code 1 when problems are found')
    .option('--tenant-only', "check only the current tenant's chain (tenant auditors)")
    .option('--json', 'machine-readable output')
    .action(async (opts: { tenantOnly?: boolean }, cmd: Command) => {
      const ctx = await connect(cmd);
      const report = opts.tenantOnly
        ? await ctx.api.call('verifyAudit', { params: { tenant: await ctx.tenant() } })
        : await ctx.api.call('verifyPlatformAudit');
      if (!report.ok) process.exitCode = ExitCode.failure;
      if (ctx.json) return printJson(report);
      const chainName = (p: { tenant_id: string | null; tenant_slug: string | null }) =>
        p.tenant_id === null ? 'platform chain' : p.tenant_slug !== null ? `tenant ${clean(p.tenant_slug)}` : `deleted tenant ${clean(p.tenant_id)}`;
      if (report.ok) {
        const signed = report.chains.filter((c) => c.checkpoint).length;
        const unsealed = report.unsealed > 0 ? `; ${report.unsealed} event(s) not sealed yet` : '';
        print(`Audit log intact: ${report.checked} events checked in ${report.chains.length} chain(s), ${signed} matching a signed checkpoint${unsealed}.`);
        return;
      }
      for (const p of report.problems) print(`${chainName(p)} position ${clean(p.position ?? '-')}: ${clean(p.problem)}`);
      print(`${report.problems.length}${report.truncated ? '+' : ''} problem(s) found in ${report.checked} events checked${report.truncated ? ' (list truncated)' : ''}.`);
    });

  audit
    .command('public-key')
    .description('the public key audit checkpoints are signed with, for verifying exports offline')
    .option('--out <file>', 'write the PEM to this file')
    .option('--json', 'machine-readable output')
    .action(async (opts: { out?: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const key = await ctx.api.call('auditPublicKey');
      if (ctx.json) return printJson(key);
      if (!opts.out) return print(key.publicKeyPem.trimEnd());
      await writeFile(opts.out, key.publicKeyPem);
      print(`Wrote public key ${key.keyId} to ${opts.out}`);
    });
}
