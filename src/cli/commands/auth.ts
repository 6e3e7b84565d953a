/** `timebox login`, `logout`, `whoami`. */
import type { Command } from 'commander';
import { ApiError, apiGet, apiPost } from '../api-client.js';
import type { Me } from '../api-types.js';
import { loadConnection, normalizeServer, readConfig, writeConfig } from '../config.js';
import { optionsOf } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { keyValues, note, print, printJson, when } from '../output.js';
import { promptHidden, readLineFromStdin } from '../prompt.js';

interface LoginResponse {
  token: string;
  expiresAt: string;
  operator: { id: string; email: string; displayName: string };
  passwordChangeRequired?: boolean;
}

const tenantsOf = (me: Me) => me.memberships.map((m) => ({ slug: m.tenant.slug, name: m.tenant.name, roles: m.roles }));
const describeTenants = (me: Me) => tenantsOf(me).map((t) => `${t.slug} (${t.roles.join(', ') || 'no roles'})`).join(', ') || 'none';

export function registerAuth(program: Command): void {
  program
    .command('login')
    .description('sign in with email and password; the session is saved in the config file (mode 0600)')
    .option('--server <url>', 'server URL, e.g. http://localhost:8420 (default: $TIMEBOX_SERVER, else the last one used)')
    .option('--email <email>', 'your email (default: the last one used on this server)')
    .option('--password-stdin', 'read the password from the first line of stdin instead of prompting')
    .option('--totp <code>', 'the 6-digit code from your authenticator app, or a recovery code if it is lost (asked for when needed, if there is a terminal)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { server?: string; email?: string; passwordStdin?: boolean; totp?: string; json?: boolean }, cmd: Command) => {
      const file = await readConfig();
      const rawServer = opts.server ?? process.env.TIMEBOX_SERVER ?? file.server;
      if (!rawServer) throw new CliError('which server? pass --server URL (e.g. http://localhost:8420)', ExitCode.usage);
      const server = normalizeServer(rawServer);
      const email = opts.email ?? (file.server === server ? file.email : undefined);
      if (!email) throw new CliError('pass --email EMAIL', ExitCode.usage);
      const password = opts.passwordStdin ? await readLineFromStdin() : await promptHidden(`Password for ${email}: `);
      if (!password) throw new CliError('the password is empty', ExitCode.usage);

      const signIn = (totp?: string) => apiPost<LoginResponse>({ server }, '/api/v1/auth/login', { email, password, ...(totp ? { totp } : {}) });
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
      const conn = { server, token: session.token };
      const me = await apiGet<Me>(conn, '/api/v1/me');
      const tenant = optionsOf(cmd).tenant;
      if (tenant && !me.operator.platformAdmin && !me.memberships.some((m) => m.tenant.slug === tenant)) {
        throw new CliError(`you are not a member of tenant ${tenant}; your tenants: ${describeTenants(me)}`, ExitCode.notFound);
      }
      const path = await writeConfig({ server, token: session.token, email: session.operator.email, ...(tenant ? { tenant } : {}) });

      if (opts.json) {
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
          await apiPost({ server: file.server, token: file.token }, '/api/v1/auth/logout');
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
      const me = await apiGet<Me>(conn, '/api/v1/me');
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
      ]);
    });
}
