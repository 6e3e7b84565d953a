/** `timebox mfa enroll | disable`: the authenticator app (TOTP) whose code sign-in asks for. */
import type { Command } from 'commander';
import { apiOf } from '../api-client.js';
import { loadConnection } from '../config.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { clean, note, print, printJson } from '../output.js';
import { promptHidden } from '../prompt.js';

const ENROLLED = 'Authenticator app enrolled; signing in now also asks for its code.';

/** The code given with --code, else asked for on the terminal. */
async function codeFrom(given: string | undefined, how: string): Promise<string> {
  if (given !== undefined) return given;
  if (!process.stdin.isTTY) throw new CliError(`no terminal to ask for the code on; ${how}`, ExitCode.usage);
  return promptHidden('Code from your authenticator app: ');
}

export function registerMfa(program: Command): void {
  const mfa = program.command('mfa').description('multi-factor authentication with an authenticator app (TOTP)');

  mfa
    .command('enroll')
    .description('enrol an authenticator app: shows its secret and otpauth:// URI, then asks for a code from the app to confirm')
    .option('--code <code>', 'confirm the enrolment started earlier with this code from the app (for scripts)')
    .option('--json', 'machine-readable output (includes the secret)')
    .action(async (opts: { code?: string; json?: boolean }) => {
      const api = apiOf(await loadConnection());
      const confirm = async (code: string) => {
        const { recoveryCodes } = await api.call('confirmTotp', { body: { code } });
        if (opts.json) return printJson({ enrolled: true, recoveryCodes });
        print(ENROLLED);
        printRecoveryCodes(recoveryCodes);
      };
      // Starting again would replace the secret the code was made from, so --code only confirms.
      if (opts.code !== undefined) return confirm(opts.code);

      const e = await api.call('startTotpEnrolment');
      if (opts.json) {
        printJson(e);
      } else {
        print('Add Timebox to your authenticator app: scan a QR code of the URI, or type in the secret.');
        print(`  URI:    ${clean(e.otpauthUri)}`);
        print(`  secret: ${clean(e.secret)}`);
      }
      if (!process.stdin.isTTY) {
        note('timebox: to finish, run: timebox mfa enroll --code CODE (the 6-digit code the app shows)');
        return;
      }
      return confirm(await promptHidden('Code from your authenticator app: '));
    });

  mfa
    .command('recovery-codes')
    .description('replace your recovery codes (the old ones stop working); needs a current code from the app')
    .option('--code <code>', 'the 6-digit code the app shows now (asked for if there is a terminal)')
    .option('--json', 'machine-readable output (includes the codes)')
    .action(async (opts: { code?: string; json?: boolean }) => {
      const api = apiOf(await loadConnection());
      const code = await codeFrom(opts.code, 'pass --code CODE');
      const { recoveryCodes } = await api.call('newRecoveryCodes', { body: { code } });
      if (opts.json) return printJson({ recoveryCodes });
      printRecoveryCodes(recoveryCodes);
    });

  mfa
    .command('reset')
    .description("platform administrators: remove another operator's authenticator app and recovery codes (they lost both); audited")
    .argument('<operator-id>', 'the operator (see timebox members list)')
    .requiredOption('--reason <text>', 'how the person was identified (kept in the audit log)')
    .option('--json', 'machine-readable output')
    .action(async (operatorId: string, opts: { reason: string; json?: boolean }) => {
      await apiOf(await loadConnection()).call('resetOperatorMfa', { params: { operatorId }, body: { reason: opts.reason } });
      if (opts.json) return printJson({ reset: true, operatorId });
      print(`Authenticator app of ${operatorId} removed; they sign in with their password and can enrol a new app.`);
    });

  mfa
    .command('disable')
    .description('remove your authenticator app; needs a current code from it, or a recovery code when it is lost')
    .option('--code <code>', 'the 6-digit code the app shows now, or a recovery code (asked for if there is a terminal)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { code?: string; json?: boolean }) => {
      const api = apiOf(await loadConnection());
      const code = await codeFrom(opts.code, 'pass --code CODE');
      await api.call('removeTotp', { body: { code } });
      if (opts.json) printJson({ enrolled: false });
      else print('Authenticator app removed; signing in asks for the password only.');
    });
}

/** Shown once: the server keeps only their hashes. */
function printRecoveryCodes(codes: string[]): void {
  print('Recovery codes (each works once, to sign in or remove the app if you lose it; keep them offline, they are not shown again):');
  for (const c of codes) print(`  ${c}`);
}
