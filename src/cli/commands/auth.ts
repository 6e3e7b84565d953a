/** `timebox login`, `logout`, `whoami`. */
import type { Command } from 'commander';
import type { CallResult, Me } from '../../api/types.js';
import { ApiError, apiOf } from '../api-client.js';
import { loadConnection, normalizeServer, readConfig, writeConfig } from '../config.js';
import { optionsOf } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { keyValues, note, print, printJson, when } from '../output.js';
import { promptHidden, readLineFromStdin } from '../prompt.js';
import { ssoLogin } from './sso-login.js';

/** A new session, from a password sign-in or single sign-on. */
export type LoginResponse = CallResult<'ssoCliExchange'> & { passwordChangeRequired?: boolean };

const tenantsOf = (me: Me) => me.memberships.map((m) => ({ slug: m.tenant.slug, name: m.tenant.name, roles: m.roles }));
const describeTenants = (me: Me) => tenantsOf(me).map((t) => `${t.slug} (${t.roles.join(', ') || 'no roles'})`).join(', ') || 'none';

/** Checks the tenant, saves the session in the config file and says so: every way of signing in ends here. */
async function saveSession(server: string, session: LoginResponse, cmd: Command, json: boolean): Promise<void> {
  const conn = { server, token: session.token };
  const me = await apiOf(conn).call('me');
  const tenant = optionsOf(cmd).tenant;
  if (tenant && !me.operator.platformAdmin && !me.memberships.some((m) => m.tenant.slug === tenant)) {
    throw new CliError(`you are not a member of tenant ${tenant}; your tenants: ${describeTenants(me)}`, ExitCode.notFound);
  }
  const path = await writeConfig({ server, token: session.token, email: session.operator.email, ...(tenant ? { tenant } : {}) });

  if (json) {
    printJson({ server, email: session.operator.email, expiresAt: session.expiresAt, tenant: tenant ?? null, tenants: tenantsOf(me), config: path });
  } else {
    print(`Signed in to ${server} as ${session.operator.email} until ${when(session.expiresAt)}.`);
    print(`Tenants: ${describeTenants(me)}${tenant ? `; working in ${tenant}` : ''}`);
    print(`Session saved in ${path}`);
  }
  if (session.passwordChangeRequired) {
    note('timebox: you were given this password: change it before anything else with timebox password change');
  }
  if (process.env.TIMEBOX_TOKEN) note('timebox: note: TIMEBOX_TOKEN is set and takes precedence over the saved session');
}

export function registerAuth(program: Command): void {
  program
    .command('login')
    .description('sign in with email and password; the session is saved in the config file (mode 0600)')
    .option('--server <url>', 'server URL, e.g. http://localhost:8420 (default: $TIMEBOX_SERVER, else the last one used)')
    .option('--email <email>', 'your email (default: the last one used on this server)')
    .option('--password-stdin', 'read the password from the first line of stdin instead of prompting')
    .option('--totp <code>', 'the 6-digit code from your authenticator app, or a recovery code if it is lost (asked for when needed, if there is a terminal)')
    .option('--sso', "sign in through the tenant's identity provider in a browser (needs --tenant)")
    .option('--device', 'with --sso: no browser here; approve the sign-in on another device (device authorization grant)')
    .option('--no-browser', 'with --sso: only print the URL, do not try to open a browser')
    .option('--json', 'machine-readable output')
    .action(async (opts: { server?: string; email?: string; passwordStdin?: boolean; totp?: string; json?: boolean; sso?: boolean; device?: boolean; browser?: boolean }, cmd: Command) => {
      const file = await readConfig();
      const rawServer = opts.server ?? process.env.TIMEBOX_SERVER ?? file.server;
      if (!rawServer) throw new CliError('which server? pass --server URL (e.g. http://localhost:8420)', ExitCode.usage);
      const server = normalizeServer(rawServer);
      if (opts.sso || opts.device) {
        const tenant = optionsOf(cmd).tenant;
        if (!tenant) throw new CliError('single sign-on is per tenant: pass --tenant SLUG', ExitCode.usage);
        const session = await ssoLogin({ server, tenant, device: opts.device === true, openBrowser: opts.browser !== false });
        await saveSession(server, session, cmd, opts.json === true);
        return;
      }
      const email = opts.email ?? (file.server === server ? file.email : undefined);
      if (!email) throw new CliError('pass --email EMAIL', ExitCode.usage);
      const password = opts.passwordStdin ? await readLineFromStdin() : await promptHidden(`Password for ${email}: `);
      if (!password) throw new CliError('the password is empty', ExitCode.usage);

      const signIn = (totp?: string): Promise<LoginResponse> => apiOf({ server }).call('login', { body: { email, password, ...(totp ? { totp } : {}) } });
      let session: LoginResponse;
      try {
        session = await signIn(opts.totp);
      } catch (err) {
        // The password was right and the account has an authenticator app: ask for its code.
        if (opts.totp || !(err instanceof ApiError) || (err.details as { mfa?: unknown } | undefined)?.mfa !== 'required') throw err;
        if (opts.passwordStdin || !process.stdin.isTTY) {
          throw new CliError('this account needs the 6-digit code from your authenticator app: pass --totp CODE', ExitCode.auth);
        }
        session = await signIn(await promptHidden('Code from your authenticator app: '));
      }
      await saveSession(server, session, cmd, opts.json === true);
    });

  program
    .command('logout')
    .description('end the session on the server and forget it locally')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const file = await readConfig();
      let endedOnServer = false;
      if (file.server && file.token) {
        try {
          await apiOf({ server: file.server, token: file.token }).call('logout');
          endedOnServer = true;
        } catch (err) {
          // Already expired is fine; anything else: the local copy goes anyway, but say so.
          if (!(err instanceof CliError) || err.exitCode !== ExitCode.auth) {
            note(`timebox: warning: could not end the session on the server: ${(err as Error).message}`);
          }
        }
        const { token: _dropped, ...rest } = file;
        await writeConfig(rest);
      }
      if (opts.json) printJson({ signedOut: Boolean(file.token), endedOnServer });
      else print(file.token ? `Signed out of ${file.server}.` : 'Not signed in.');
      if (process.env.TIMEBOX_TOKEN) note('timebox: note: TIMEBOX_TOKEN is still set in your environment');
    });

  program
    .command('whoami')
    .description('who you are signed in as, and your tenants')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const conn = await loadConnection();
      const me = await apiOf(conn).call('me');
      if (opts.json) {
        printJson({ server: conn.server, ...me });
        return;
      }
      keyValues([
        ['server', conn.server],
        ['email', me.operator.email],
        ['name', me.operator.displayName],
        ['platform admin', me.operator.platformAdmin ? 'yes' : 'no'],
        ['tenants', describeTenants(me)],
        ['default tenant', conn.tenant ?? (me.memberships.length === 1 ? me.memberships[0]!.tenant.slug : '-')],
        ['authenticator app', me.operator.mfaEnabled ? 'enrolled' : 'not enrolled'],
        ['signed in', `${me.session.kind === 'api' ? 'with an API token' : 'with a session'}, ${me.session.expiresAt ? `until ${when(me.session.expiresAt)}` : 'until it is revoked'}`],
      ]);
      // Everything but this answers 403 until then: say so here, where a person looks first.
      if (me.operator.passwordChangeRequired) note('Your password was set by someone else: change it (timebox password change) before anything else works.');
    });
}
