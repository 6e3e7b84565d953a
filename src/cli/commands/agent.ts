/**
 * `timebox agent enroll | run`: the endpoint agent on a Linux host (as root). enroll exchanges a
 * one-time token for this host's identity (the private key stays in the state directory); run
 * enforces grants from the server (or a local desired-state file) until stopped.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { enrollAgent } from '../../agent/identity.js';
import { runAgent } from '../../agent/main.js';
import { CliError, ExitCode, exitCodeForStatus } from '../exit-codes.js';
import { print } from '../output.js';

const DEFAULT_STATE_DIR = '/var/lib/timebox-agent';

export function registerAgent(program: Command): void {
  const agent = program.command('agent').description('the endpoint agent on this Linux host (run as root)');

  agent
    .command('enroll')
    .description('enrol this host with a one-time token from `timebox agents token`')
    .requiredOption('--server <url>', 'the Timebox server (https://…)')
    .option('--token <token>', 'the enrolment token (or TIMEBOX_ENROLMENT_TOKEN, which keeps it out of ps)')
    .option('--state-dir <dir>', 'where the key and identity are kept', DEFAULT_STATE_DIR)
    .option('--hostname <name>', 'the host name to report (default: this host\'s)')
    .option('--ca-file <pem>', 'a private CA for the server\'s certificate')
    .action(async (opts: { server: string; token?: string; stateDir: string; hostname?: string; caFile?: string }) => {
      const token = opts.token ?? process.env.TIMEBOX_ENROLMENT_TOKEN;
      if (!token) throw new CliError('give the enrolment token with --token or TIMEBOX_ENROLMENT_TOKEN', ExitCode.usage);
      const caPem = opts.caFile ? await readFile(opts.caFile, 'utf8') : undefined;
      try {
        const id = await enrollAgent({ server: opts.server, token, stateDir: opts.stateDir, hostname: opts.hostname, caPem });
        print(`Enrolled as agent ${id.name} (${id.agentId}) in tenant ${id.tenant}.`);
        print(`Start it with: timebox agent run --state-dir ${opts.stateDir}`);
      } catch (err) {
        const status = (err as { status?: unknown }).status;
        throw new CliError((err as Error).message, typeof status === 'number' ? exitCodeForStatus(status) : ExitCode.failure);
      }
    });

  agent
    .command('run')
    .description('enforce grants: from the server when enrolled, else from --schedule-file; ends them on time even offline')
    .option('--state-dir <dir>', 'schedule, journal, key and identity', DEFAULT_STATE_DIR)
    .option('--schedule-file <file>', 'a local desired-state JSON file instead of the server')
    .option('--config <file>', 'agent settings (default <state-dir>/agent.json, optional)')
    .action(async (opts: { stateDir: string; scheduleFile?: string; config?: string }) => {
      const abort = new AbortController();
      process.once('SIGTERM', () => abort.abort());
      process.once('SIGINT', () => abort.abort());
      try {
        await runAgent({ stateDir: opts.stateDir, scheduleFile: opts.scheduleFile, configFile: opts.config, signal: abort.signal });
      } catch (err) {
        throw new CliError(`the agent stopped: ${(err as Error).message}`, ExitCode.failure);
      }
    });
}
