/** `timebox sessions list | watch | play | commands | kill | export`: recorded gateway sessions (admins and auditors). */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { endpoints } from '../../api/endpoints.js';
import { pathOf } from '../../api/endpoint.js';
import { formatOffset } from '../../api/recording-offset.js';
import { endReasonText } from '../../api/session-end-reasons.js';
import { apiGetBytes } from '../api-client.js';
import { connect, idArg, type Ctx } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { clean, note, print, printJson, table, when } from '../output.js';
import { factorArg, play, playbackSteps } from './sessions-play.js';
import { watchSession } from './sessions-watch.js';

/** Ctrl-C stops this command only (never the session): aborts `signal`, exit code 130. */
function stopOnCtrlC(what: string): { signal: AbortSignal; done(): void } {
  const ctl = new AbortController();
  const onInt = () => {
    ctl.abort();
    note(`\ntimebox: stopped ${what}; the session is not affected`);
    process.exitCode = 130;
  };
  process.once('SIGINT', onInt);
  return { signal: ctl.signal, done: () => process.off('SIGINT', onInt) };
}

/** The recording (a live one up to its last flush) and whether it is whole. */
async function recordingOf(ctx: Ctx, sessionId: string): Promise<{ cast: string; complete: boolean }> {
  const { body, headers } = await apiGetBytes(ctx.conn, pathOf(endpoints.exportGatewayRecording.path, { tenant: await ctx.tenant(), id: sessionId }));
  return { cast: body.toString('utf8'), complete: headers.get('x-recording-complete') === 'true' };
}

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
    .command('watch')
    .description('follow a session in this terminal, read-only: its output so far, then as it happens (Ctrl-C stops watching)')
    .argument('<id>', 'session id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const sessionId = idArg(id, 'session');
      const stop = stopOnCtrlC('watching');
      try {
        const outcome = await watchSession(ctx, sessionId, process.stdout, stop.signal);
        if (outcome.kind === 'ended') {
          const why = endReasonText(outcome.endReason);
          note(`${process.stderr.isTTY ? '\r\n' : ''}timebox: session ${sessionId} has ended${why ? `: ${why}` : ''}.`);
        }
      } finally {
        stop.done();
      }
    });

  sessions
    .command('play')
    .description('play a recording in this terminal with its timing (a live session: up to its last flush)')
    .argument('<id>', 'session id')
    .option('--speed <factor>', 'playback speed (2: twice as fast; 0: all at once)', '1')
    .option('--idle-limit <seconds>', 'longest pause played', '2')
    .option('--no-wait', 'write it all at once, without the timing (for pipes)')
    .action(async (id: string, opts: { speed: string; idleLimit: string; wait: boolean }, cmd: Command) => {
      const speed = factorArg(opts.speed, '--speed', 1000);
      const idleLimitSeconds = factorArg(opts.idleLimit, '--idle-limit', 3600);
      const ctx = await connect(cmd);
      const sessionId = idArg(id, 'session');
      const { cast, complete } = await recordingOf(ctx, sessionId);
      const steps = playbackSteps(cast, { speed: opts.wait ? speed : 0, idleLimitSeconds });
      const stop = stopOnCtrlC('playing');
      try {
        await play(steps, process.stdout, stop.signal);
      } finally {
        stop.done();
      }
      if (!complete && !stop.signal.aborted) note(`${process.stderr.isTTY ? '\r\n' : ''}timebox: the session is live or ended abnormally: played up to its last flush.`);
    });

  sessions
    .command('commands')
    .description('the commands typed at the shell prompt of a session, or --search across sessions')
    .argument('[id]', 'session id')
    .option('--search <text>', 'sessions whose typed commands contain this text (any case), newest first')
    .option('--limit <n>', 'at most this many hits of --search (1-200)', '50')
    .option('--json', 'machine-readable output')
    .action(async (id: string | undefined, opts: { search?: string; limit: string }, cmd: Command) => {
      if ((id === undefined) === (opts.search === undefined)) throw new CliError('give either a session id or --search TEXT', ExitCode.usage);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new CliError(`--limit must be a whole number from 1 to 200, not ${JSON.stringify(opts.limit)}`, ExitCode.usage);
      const ctx = await connect(cmd);
      const tenant = await ctx.tenant();
      if (id !== undefined) {
        const { items } = await ctx.api.call('listGatewaySessionCommands', { params: { tenant, id: idArg(id, 'session') } });
        if (ctx.json) return printJson(items);
        return table(['AT', 'COMMAND'], items.map((c) => [formatOffset(c.offsetMs), c.text]), 'No commands typed at a shell prompt in this session.');
      }
      const { items } = await ctx.api.call('searchGatewayCommands', { params: { tenant }, query: { q: opts.search!, limit } });
      if (ctx.json) return printJson(items);
      table(
        ['SESSION', 'WHO', 'TARGET', 'ACCOUNT', 'TIME', 'COMMAND'],
        items.map((h) => [h.sessionId, h.operatorEmail, h.targetName, h.account, when(h.at), h.text]),
        `No command typed in a session contains ${JSON.stringify(opts.search)}.`,
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
