#!/usr/bin/env node
/**
 * The `timebox` command: `serve` runs the server; everything else talks to a server over its
 * HTTP API as the signed-in operator. Failures print `timebox: <message>` (never a stack trace)
 * and exit with a code from exit-codes.ts.
 */
import { Command, CommanderError } from 'commander';
import { registerAgent } from './commands/agent.js';
import { registerAgents } from './commands/agents.js';
import { registerAudit } from './commands/audit.js';
import { registerAuth } from './commands/auth.js';
import { registerGrants } from './commands/grants.js';
import { registerJitAccounts } from './commands/jit-accounts.js';
import { registerJitSettings, registerReconcile } from './commands/jit-settings.js';
import { registerMembers } from './commands/members.js';
import { registerMfa } from './commands/mfa.js';
import { registerPassword } from './commands/password.js';
import { registerPolicies } from './commands/policies.js';
import { registerRequest } from './commands/request.js';
import { registerSso } from './commands/sso.js';
import { registerTargets } from './commands/targets.js';
import { registerTokens } from './commands/tokens.js';
import { registerGateway } from './commands/gateway.js';
import { registerSessions } from './commands/sessions.js';
import { registerSsh } from './commands/ssh.js';
import { CliError, ExitCode, exitCodesHelp } from './exit-codes.js';
import { serve } from './serve.js';

const environmentHelp = [
  'Environment:',
  '  TIMEBOX_CONFIG   config file (default ~/.config/timebox/cli.json)',
  '  TIMEBOX_SERVER   server URL, overrides the config file',
  '  TIMEBOX_TOKEN    API token, overrides the saved session',
].join('\n');

function buildProgram(): Command {
  const program = new Command()
    .name('timebox')
    .description('Just-in-time privileged access: no standing privileges.')
    .option('--tenant <slug>', 'tenant to work in (default: the one saved at login, else your only tenant)')
    // Set before any subcommand exists: subcommands inherit these settings when created.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`timebox: ${text.replace(/^error: /, '')}`) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', `\n${environmentHelp}\n\n${exitCodesHelp}\n`);

  program
    .command('serve')
    .description('run the server (embedded database in ./data unless DATABASE_URL is set; port from PORT, default 8420)')
    .action(serve);

  registerAuth(program);
  registerTargets(program);
  registerPolicies(program);
  registerRequest(program);
  registerGrants(program);
  registerJitAccounts(program);
  registerJitSettings(program);
  registerReconcile(program);
  registerAudit(program);
  registerTokens(program);
  registerMembers(program);
  registerMfa(program);
  registerSso(program);
  registerPassword(program);
  registerAgents(program);
  registerAgent(program);
  registerGateway(program);
  registerSsh(program);
  registerSessions(program);
  return program;
}

// `timebox audit export | head`: a closed pipe ends the command quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander already printed the message (or the help); only the exit code is ours.
    process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else if (err instanceof CliError) {
    process.stderr.write(`timebox: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`timebox: unexpected error: ${message}\n`);
    if (process.env.TIMEBOX_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = ExitCode.failure;
  }
}
