#!/usr/bin/env node
/**
 * The `timebox` command: `serve` runs the server; everything else talks to a server over its
 * HTTP API as the signed-in operator (program.ts lists the commands). Failures print
 * `timebox: <message>` (never a stack trace) and exit with a code from exit-codes.ts.
 */
import { CommanderError } from 'commander';
import { CliError, ExitCode } from './exit-codes.js';
import { clean } from './output.js';
import { buildProgram } from './program.js';

// `timebox audit export | head`: a closed pipe ends the command quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

try {
  await (await buildProgram(process.argv.slice(2))).parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander already printed the message (or the help); only the exit code is ours.
    process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else if (err instanceof CliError) {
    // The message may carry the server's or a provider's words: shown, never obeyed by the terminal.
    process.stderr.write(`timebox: ${clean(err.message)}\n`);
    process.exitCode = err.exitCode;
  } else {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`timebox: unexpected error: ${clean(message)}\n`);
    if (process.env.TIMEBOX_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = ExitCode.failure;
  }
}
