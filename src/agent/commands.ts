/**
 * `timebox-agent enroll | run | install-service` (also `timebox agent …`): the endpoint agent on a
 * Linux host (as root). enroll exchanges a one-time token for this host's identity (the private
 * key stays in the state directory); run enforces grants from the server (or a local desired-state
 * file) until stopped; install-service makes `timebox-agent run` a systemd service.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliError, ExitCode, exitCodeForStatus } from '../core/exit-codes.js';
import { enrollAgent } from './identity.js';
import { AGENT_UNIT_NAME, renderAgentUnit } from './systemd-unit.js';

const DEFAULT_STATE_DIR = '/var/lib/timebox-agent';
const DEFAULT_UNIT_DIR = '/etc/systemd/system';

/** The `timebox-agent` script beside this package's compiled and source trees (bin/ at its root). */
export const AGENT_SCRIPT = fileURLToPath(new URL('../../bin/timebox-agent.js', import.meta.url));

const print = (line: string) => process.stdout.write(`${line}\n`);

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, output: `${String(stdout)}${String(stderr)}`.trim() });
    });
  });
}

/** Adds enroll, run and install-service to `agent` (the `timebox-agent` program or `timebox agent`). */
export function registerAgentCommands(agent: Command): void {
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
        print(`Start it with: timebox-agent run --state-dir ${opts.stateDir}`);
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
        // Loaded when run: enroll and install-service need none of the host code.
        const { runAgent } = await import('./main.js');
        await runAgent({ stateDir: opts.stateDir, scheduleFile: opts.scheduleFile, configFile: opts.config, signal: abort.signal });
      } catch (err) {
        throw new CliError(`the agent stopped: ${(err as Error).message}`, ExitCode.failure);
      }
    });

  agent
    .command('install-service')
    .description(`install \`timebox-agent run\` as the systemd service ${AGENT_UNIT_NAME} and start it (root)`)
    .option('--state-dir <dir>', 'the state directory of `timebox-agent enroll`', DEFAULT_STATE_DIR)
    .option('--config <file>', 'agent settings (default <state-dir>/agent.json, optional)')
    .option('--unit-dir <dir>', 'where the unit file goes', DEFAULT_UNIT_DIR)
    .option('--no-start', 'write the unit only; print the commands that enable and start it')
    .action(async (opts: { stateDir: string; config?: string; unitDir: string; start: boolean }) => {
      let unit: string;
      try {
        unit = renderAgentUnit({
          nodePath: process.execPath,
          scriptPath: AGENT_SCRIPT,
          stateDir: path.resolve(opts.stateDir),
          ...(opts.config ? { configFile: path.resolve(opts.config) } : {}),
        });
      } catch (err) {
        throw new CliError((err as Error).message, ExitCode.usage);
      }
      const file = path.join(path.resolve(opts.unitDir), AGENT_UNIT_NAME);
      const tmp = `${file}.tmp-${process.pid}`;
      try {
        await writeFile(tmp, unit, { mode: 0o644 });
        await chmod(tmp, 0o644);
        await rename(tmp, file);
      } catch (err) {
        throw new CliError(`cannot write ${file}: ${(err as Error).message}`, ExitCode.failure);
      }
      print(`Wrote ${file}.`);
      if (!existsSync(path.join(path.resolve(opts.stateDir), 'identity.json'))) {
        print(`Note: ${opts.stateDir} holds no enrolment yet; run \`timebox-agent enroll\` first, or the service only enforces its local schedule.`);
      }
      const commands: string[][] = [
        ['systemctl', 'daemon-reload'],
        ['systemctl', 'enable', '--now', AGENT_UNIT_NAME],
      ];
      // The test systemd itself uses (sd_booted): is this host running under systemd?
      if (!opts.start || !existsSync('/run/systemd/system')) {
        print(opts.start ? 'systemd is not running on this host; enable and start the service with:' : 'Enable and start the service with:');
        for (const c of commands) print(`  ${c.join(' ')}`);
        return;
      }
      for (const [cmd, ...args] of commands) {
        const r = await run(cmd!, args);
        if (r.code !== 0) throw new CliError(`${[cmd, ...args].join(' ')} failed (exit ${r.code}): ${r.output}`, ExitCode.failure);
      }
      print(`Started ${AGENT_UNIT_NAME}; follow it with: journalctl -u ${AGENT_UNIT_NAME} -f`);
    });
}

/** `timebox agent …`: the same commands under the operator CLI. */
export function registerAgentCommandsUnder(program: Command): void {
  registerAgentCommands(program.command('agent').description('the endpoint agent on this Linux host (run as root); also the `timebox-agent` program'));
}
