/** `timebox tokens create | list | revoke`: personal API tokens. */
import type { Command } from 'commander';
import { intArg } from '../args.js';
import { connect, idArg } from '../context.js';
import { clean, print, printJson, table, when } from '../output.js';

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('personal API tokens (for scripts: TIMEBOX_TOKEN)');

  tokens
    .command('create')
    .description('create an API token; it is shown only this once')
    .requiredOption('--name <name>', 'what it is for, e.g. "ci"')
    .option('--expires-days <days>', 'expire after this many days (default: never)', intArg(1, 3650))
    .option('--json', 'machine-readable output (includes the token)')
    .action(async (opts: { name: string; expiresDays?: number }, cmd: Command) => {
      const ctx = await connect(cmd);
      const t = await ctx.api.call('createToken', {
        body: { name: opts.name, ...(opts.expiresDays !== undefined ? { expiresInDays: opts.expiresDays } : {}) },
      });
      if (ctx.json) return printJson(t);
      print(`Created token ${clean(t.name)} (id ${t.id}), ${t.expiresAt ? `expires ${when(t.expiresAt)}` : 'does not expire'}:`);
      print(`  ${t.token}`);
      print('It is shown only this once; store it now. Use it as TIMEBOX_TOKEN or an Authorization: Bearer header.');
    });

  tokens
    .command('list')
    .description('your live API tokens (never their secrets)')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const { items } = await ctx.api.call('listTokens');
      if (ctx.json) return printJson(items);
      table(
        ['ID', 'NAME', 'CREATED', 'EXPIRES', 'LAST USED'],
        items.map((t) => [t.id, t.name, when(t.createdAt), t.expiresAt ? when(t.expiresAt) : 'never', when(t.lastUsedAt)]),
        'No API tokens.',
      );
    });

  tokens
    .command('revoke')
    .description('revoke one of your API tokens')
    .argument('<id>', 'token id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const tokenId = idArg(id, 'token');
      await ctx.api.call('revokeToken', { params: { id: tokenId } });
      if (ctx.json) return printJson({ revoked: tokenId });
      print(`Revoked token ${tokenId}.`);
    });
}
