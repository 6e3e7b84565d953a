#!/usr/bin/env node
/**
 * The `timebox-agent` program: enroll, run and install-service of the endpoint agent, on its own.
 * It loads the agent, core and the wire contract only — nothing of the server or the operator CLI
 * (test/architecture/agent-imports.test.ts keeps it so) — because it runs as root on every enrolled host.
 * Failures print `timebox-agent: <message>` and exit with a code of core/exit-codes.ts.
 */
import { Command, CommanderError } from 'commander';
import { CliError, ExitCode, exitCodesHelp } from '../core/exit-codes.js';
import { registerAgentCommands } from './commands.js';
import { AGENT_VERSION } from './version.js';

const program = new Command()
  .name('timebox-agent')
  .description('Timebox endpoint agent: just-in-time accounts, groups and sudo rules on this Linux host (run as root).')
  .version(AGENT_VERSION)
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`timebox-agent: ${text.replace(/^error: /, '')}`) })
  .showHelpAfterError('(add --help for usage)')
  .addHelpText('after', `\n${exitCodesHelp}\n`);
registerAgentCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else if (err instanceof CliError) {
    process.stderr.write(`timebox-agent: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`timebox-agent: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = ExitCode.failure;
  }
}
