/** `timebox sso show | set | remove`: the tenant's single sign-on (owners and admins). */
import { InvalidArgumentError, type Command } from 'commander';
import type { ApiClient } from '../../api/client.js';
import type { Role, SsoSettings } from '../../api/types.js';
import { ApiError } from '../api-client.js';
import { collect } from '../args.js';
import { connect } from '../context.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { keyValues, print, printJson } from '../output.js';
import { readLineFromStdin } from '../prompt.js';

/** `--map "IdP group=role,role"`, repeatable; the last '=' splits (group names may hold '='). */
function mapping(value: string, previous: { group: string; values: string[] }[] | undefined) {
  const at = value.lastIndexOf('=');
  const values = value.slice(at + 1).split(',').map((s) => s.trim()).filter(Boolean);
  if (at <= 0 || values.length === 0) throw new InvalidArgumentError('expected "IdP group=value[,value]"');
  return [...(previous ?? []), { group: value.slice(0, at).trim(), values }];
}

async function current(api: ApiClient, tenant: string): Promise<SsoSettings | null> {
  try {
    return await api.call('getSsoSettings', { params: { tenant } });
  } catch (err) {
    if (err instanceof ApiError && (err.details as { sso?: string } | undefined)?.sso === 'not_configured') return null;
    throw err;
  }
}

function show(s: SsoSettings): void {
  keyValues([
    ['issuer', s.issuer],
    ['client id', s.clientId],
    ['client secret', s.clientSecretSet ? 'stored (never shown)' : 'none'],
    ['scopes', s.scopes.join(' ')],
    ['claims', `email: ${s.emailClaim}, verified: ${s.emailVerifiedClaim}, groups: ${s.groupsClaim}`],
    ['roles', s.roleMappings.map((m) => `${m.group}=${m.roles.join(',')}`).join('; ') || '-'],
    ['operator groups', s.groupMappings.map((m) => `${m.group}=${m.operatorGroup}`).join('; ') || '-'],
    ['require SSO', s.requireSso ? 'yes' : 'no'],
    ['break-glass', s.breakGlassEmails.join(', ') || '-'],
    ['redirect URI', s.redirectUri],
  ]);
}

export function registerSso(program: Command): void {
  const sso = program.command('sso').description("the tenant's single sign-on through an OpenID Connect provider");

  sso
    .command('show')
    .description('the settings (the client secret is never shown)')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const s = await current(ctx.api, await ctx.tenant());
      if (!s) throw new CliError(`single sign-on is not set up for tenant ${await ctx.tenant()}; see timebox sso set --help`, ExitCode.notFound);
      if (ctx.json) return printJson(s);
      show(s);
    });

  sso
    .command('set')
    .description('set up or change single sign-on; options not given keep their saved value')
    .option('--issuer <url>', 'the issuer URL (https)')
    .option('--client-id <id>', 'the client (application) id registered at the provider')
    .option('--client-secret-stdin', 'read the client secret from the first line of stdin (never from the command line)')
    .option('--scopes <scopes>', 'space-separated; default "openid email profile"')
    .option('--email-claim <claim>', 'claim holding the email (default email)')
    .option('--email-verified-claim <claim>', 'claim saying the email is verified (default email_verified; Entra ID: xms_edov)')
    .option('--groups-claim <claim>', 'claim holding the groups (default groups)')
    .option('--map <group=roles>', 'IdP group to tenant roles, e.g. "pam-admins=admin"; repeat; replaces all role mappings', mapping)
    .option('--map-group <group=operator-group>', 'IdP group to an operator group; repeat; replaces all group mappings', mapping)
    .option('--require-sso', 'refuse password sign-in for members of this tenant')
    .option('--no-require-sso', 'allow password sign-in again')
    .option('--break-glass <email>', 'an owner who may still sign in with password and authenticator code; repeat or comma-separate', collect)
    .option('--json', 'machine-readable output')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const ctx = await connect(cmd);
      const s = await current(ctx.api, await ctx.tenant());
      const issuer = (opts.issuer as string | undefined) ?? s?.issuer;
      const clientId = (opts.clientId as string | undefined) ?? s?.clientId;
      if (!issuer || !clientId) throw new CliError('the first setup needs --issuer, --client-id and --client-secret-stdin', ExitCode.usage);
      const secret = opts.clientSecretStdin ? await readLineFromStdin() : undefined;
      if (opts.clientSecretStdin && !secret) throw new CliError('the client secret on stdin is empty', ExitCode.usage);
      const roleMaps = opts.map as { group: string; values: string[] }[] | undefined;
      const groupMaps = opts.mapGroup as { group: string; values: string[] }[] | undefined;
      const saved = await ctx.api.call('setSsoSettings', { params: { tenant: await ctx.tenant() }, body: {
        issuer,
        clientId,
        ...(secret ? { clientSecret: secret } : {}),
        scopes: opts.scopes ? String(opts.scopes).split(/\s+/).filter(Boolean) : (s?.scopes ?? ['openid', 'email', 'profile']),
        emailClaim: (opts.emailClaim as string | undefined) ?? s?.emailClaim ?? 'email',
        emailVerifiedClaim: (opts.emailVerifiedClaim as string | undefined) ?? s?.emailVerifiedClaim ?? 'email_verified',
        groupsClaim: (opts.groupsClaim as string | undefined) ?? s?.groupsClaim ?? 'groups',
        // Roles as typed: the server refuses one it does not know, naming it.
        roleMappings: roleMaps ? roleMaps.map((m) => ({ group: m.group, roles: m.values as Role[] })) : (s?.roleMappings ?? []),
        groupMappings: groupMaps ? groupMaps.flatMap((m) => m.values.map((g) => ({ group: m.group, operatorGroup: g }))) : (s?.groupMappings ?? []),
        requireSso: (opts.requireSso as boolean | undefined) ?? s?.requireSso ?? false,
        breakGlassEmails: (opts.breakGlass as string[] | undefined) ?? s?.breakGlassEmails ?? [],
      } });
      if (ctx.json) return printJson(saved);
      print(`Single sign-on saved for tenant ${await ctx.tenant()}.`);
      show(saved);
    });

  sso
    .command('remove')
    .description('remove single sign-on from the tenant (password sign-in works again)')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      await ctx.api.call('deleteSsoSettings', { params: { tenant: await ctx.tenant() } });
      if (ctx.json) return printJson({ removed: true });
      print(`Single sign-on removed from tenant ${await ctx.tenant()}.`);
    });
}
