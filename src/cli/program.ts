/**
 * The `timebox` command tree, built for one invocation. Each top-level command's module is
 * imported only when that command runs (all of them for help or an unknown name), so
 * `timebox agent run` loads the agent alone and `timebox grants list` no server code.
 */
import { Command, Help, Option } from 'commander';
import { exitCodesHelp } from './exit-codes.js';
import { serve } from './serve.js';

type Register = (program: Command) => void;

/**
 * Every top-level command: the names its module adds and how to load the module. To add a
 * command, add one line (names exactly as registered: test/cli/program.test.ts checks them).
 */
export const COMMANDS: { names: string[]; load: () => Promise<Register> }[] = [
  { names: ['serve'], load: async () => registerServe },
  { names: ['login', 'logout', 'whoami'], load: async () => (await import('./commands/auth.js')).registerAuth },
  { names: ['targets'], load: async () => (await import('./commands/targets.js')).registerTargets },
  { names: ['policies'], load: async () => (await import('./commands/policies.js')).registerPolicies },
  { names: ['request'], load: async () => (await import('./commands/request.js')).registerRequest },
  { names: ['approvals'], load: async () => (await import('./commands/approvals.js')).registerApprovals },
  { names: ['grants'], load: async () => (await import('./commands/grants.js')).registerGrants },
  { names: ['jit-accounts'], load: async () => (await import('./commands/jit-accounts.js')).registerJitAccounts },
  { names: ['jit-settings'], load: async () => (await import('./commands/jit-settings.js')).registerJitSettings },
  { names: ['reconcile'], load: async () => (await import('./commands/jit-settings.js')).registerReconcile },
  { names: ['audit'], load: async () => (await import('./commands/audit.js')).registerAudit },
  { names: ['tokens'], load: async () => (await import('./commands/tokens.js')).registerTokens },
  { names: ['members'], load: async () => (await import('./commands/members.js')).registerMembers },
  { names: ['mfa'], load: async () => (await import('./commands/mfa.js')).registerMfa },
  { names: ['sso'], load: async () => (await import('./commands/sso.js')).registerSso },
  { names: ['password'], load: async () => (await import('./commands/password.js')).registerPassword },
  { names: ['agents'], load: async () => (await import('./commands/agents.js')).registerAgents },
  { names: ['gateway'], load: async () => (await import('./commands/gateway.js')).registerGateway },
  { names: ['ssh', 'ssh-keys'], load: async () => (await import('./commands/ssh.js')).registerSsh },
  { names: ['sessions'], load: async () => (await import('./commands/sessions.js')).registerSessions },
  // The endpoint agent's commands, the same as the `timebox-agent` program's.
  { names: ['agent'], load: async () => (await import('../agent/commands.js')).registerAgentCommandsUnder },
];

function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the server (embedded database in ./data unless DATABASE_URL is set; port from PORT, default 8420)')
    .action(serve);
}

const environmentHelp = [
  'Environment:',
  '  TIMEBOX_CONFIG   config file (default ~/.config/timebox/cli.json)',
  '  TIMEBOX_SERVER   server URL, overrides the config file',
  '  TIMEBOX_TOKEN    API token, overrides the saved session',
].join('\n');

/** The program with the commands `args` (argv after the script) can reach: the one named, or all. */
export async function buildProgram(args: string[]): Promise<Command> {
  const program = new Command()
    .name('timebox')
    .description('Just-in-time privileged access: no standing privileges.')
    .option('--tenant <slug>', 'tenant to work in (default: the one saved at login, else your only tenant)')
    .addOption(new Option('--output <format>', 'text for people, json for scripts (the same as --json)').choices(['text', 'json']).default('text'))
    // Set before any subcommand exists: subcommands inherit these settings when created.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`timebox: ${text.replace(/^error: /, '')}`) })
    // "add --help" read like the `add` subcommand under `targets`, `members` and others.
    .showHelpAfterError('(run the command again with --help to see its usage)')
    // Commander does not mark options that must be given; a newcomer learns it from the help, not a refusal.
    .configureHelp({
      optionDescription(option) {
        const text = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `${text} (required)` : text;
      },
    })
    .addHelpText('after', `\n${environmentHelp}\n\n${exitCodesHelp}\n`);

  // `--output json` means `--json` for whichever command runs, so every command honours it the same way.
  program.hook('preAction', (_program, action) => {
    if (program.opts<{ output?: string }>().output === 'json') action.setOptionValue('json', true);
  });

  const name = commandName(program, args);
  const chosen = COMMANDS.filter((c) => name !== undefined && c.names.includes(name));
  for (const c of chosen.length ? chosen : COMMANDS) (await c.load())(program);
  return program;
}

/** The first operand, after global options and their values: the command's name. */
export function commandName(program: Command, args: string[]): string | undefined {
  const takesValue = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short]));
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return args[i + 1];
    if (takesValue.has(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}
