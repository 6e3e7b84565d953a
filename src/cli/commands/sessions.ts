/** `timebox sessions list | kill | export`: recorded gateway sessions (admins and auditors). */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { endpoints } from '../../api/endpoints.js';
import { pathOf } from '../../api/endpoint.js';
import { apiGetBytes } from '../api-client.js';
import { connect, idArg } from '../context.js';
import { clean, print, printJson, table, when } from '../output.js';

export function registerSessions(program: Command): void {
  const sessions = program.command('sessions').description('recorded SSH gateway sessions (admins and auditors)');

  sessions
    .command('list')
    .description('sessions, newest first')
    .option('--live', 'only sessions still open')
    .option('--json', 'machine-readable output')
    .action(async (opts: { live?: boolean }, cmd: Command) => {
      const ctx = await connect(cmd);
      const { items } = await ctx.api.call('listGatewaySessions', { params: { tenant: await ctx.tenant() }, query: opts.live ? { live: 'true' } : {} });
      if (ctx.json) return printJson(items);
      table(
        ['ID', 'WHO', 'TARGET', 'ACCOUNT', 'KIND', 'STARTED', 'ENDED', 'REASON'],
        items.map((s) => [s.id, clean(s.operatorEmail), clean(s.targetName), clean(s.account), s.kind, when(s.startedAt), s.live ? 'live' : when(s.endedAt), s.endReason ?? '']),
        'No sessions.',
      );
    });

  sessions
    .command('kill')
    .description('end a live session (its gateway closes it within a second)')
    .argument('<id>', 'session id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const sessionId = idArg(id, 'session');
      await ctx.api.call('killGatewaySession', { params: { tenant: await ctx.tenant(), id: sessionId } });
      print(`Session ${sessionId} will be closed.`);
    });

  sessions
    .command('export')
    .description('write the recording as an asciicast v2 file (asciinema play FILE)')
    .argument('<id>', 'session id')
    .option('-o, --output <file>', 'file to write (default: session-<id>.cast)')
    .action(async (id: string, opts: { output?: string }, cmd: Command) => {
      const ctx = await connect(cmd);
      const sessionId = idArg(id, 'session');
      // Not JSON: the recording's bytes, fetched at the contract's path.
      const recording = pathOf(endpoints.exportGatewayRecording.path, { tenant: await ctx.tenant(), id: sessionId });
      const { body, headers } = await apiGetBytes(ctx.conn, recording);
      const file = opts.output ?? `session-${sessionId}.cast`;
      await writeFile(file, body, { mode: 0o600, flag: 'wx' });
      const complete = headers.get('x-recording-complete') === 'true';
      print(`Wrote ${body.length} bytes to ${file}${complete ? '' : ' (the session is live or ended abnormally: up to its last flush)'}.`);
    });
}
