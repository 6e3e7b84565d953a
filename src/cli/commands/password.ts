/** `timebox password change`: the signed-in operator's own password. */
import type { Command } from 'commander';
import { apiOf } from '../api-client.js';
import { loadConnection } from '../config.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { print, printJson } from '../output.js';
import { promptHidden, readLinesFromStdin } from '../prompt.js';

export function registerPassword(program: Command): void {
  const password = program.command('password').description('your own sign-in password');
  password
    .command('change')
    .description('change your password (at least 12 characters, not your email, hard to guess); your other sessions end')
    .option('--password-stdin', 'read the current password from the first line of stdin and the new one from the second')
    .option('--json', 'machine-readable output')
    .action(async (opts: { passwordStdin?: boolean; json?: boolean }) => {
      const conn = await loadConnection();
      let current: string;
      let next: string;
      if (opts.passwordStdin) {
        [current = '', next = ''] = await readLinesFromStdin(2);
      } else {
        current = await promptHidden('Current password: ');
        next = await promptHidden('New password: ');
        if ((await promptHidden('New password again: ')) !== next) throw new CliError('the two new passwords differ; nothing changed', ExitCode.usage);
      }
      if (!current || !next) throw new CliError('give the current password and the new one', ExitCode.usage);
      const r = await apiOf(conn).call('changePassword', { body: { currentPassword: current, newPassword: next } });
      if (opts.json) return printJson(r);
      print(`Password changed. ${r.otherSessionsEnded} other session(s) ended; this one stays signed in.`);
    });
}
