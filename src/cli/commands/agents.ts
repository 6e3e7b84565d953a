/** `timebox agents list | revoke | token`: the fleet of Linux endpoint agents (administrators). */
import type { Command } from 'commander';
import { readAgentHealth } from '../../api/endpoints/agents.js';
import type { Agent } from '../../api/types.js';
import { intArg } from '../args.js';
import { connect, idArg } from '../context.js';
import { clean, print, printJson, relative, table, when } from '../output.js';

function healthText(a: Agent): string {
  if (a.revoked) return 'revoked';
  const h = readAgentHealth(a.health);
  if (!h) return '-';
  const grants = Object.entries(h.grants ?? {})
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  return [grants || 'no grants', h.failing ? `${h.failing} failing` : ''].filter(Boolean).join('; ');
}

export function registerAgents(program: Command): void {
  const agents = program.command('agents').description('Linux endpoint agents: enrolment tokens, the fleet, revocation');

  agents
    .command('list')
    .description('enrolled agents: host, version, last seen, health')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const { items } = await ctx.api.pages('listAgents', { params: { tenant: await ctx.tenant() } });
      if (ctx.json) return printJson(items);
      table(
        ['ID', 'NAME', 'HOSTNAME', 'VERSION', 'LAST SEEN', 'HEALTH'],
        items.map((a) => [a.id, a.name, a.hostname, a.version, a.lastSeenAt ? `${when(a.lastSeenAt)} (${relative(a.lastSeenAt)})` : 'never', healthText(a)]),
        'No agents enrolled. Create a token with: timebox agents token',
      );
    });

  agents
    .command('revoke')
    .description('revoke an agent: refused at once, its desired state no longer served')
    .argument('<id>', 'agent id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const agentId = idArg(id, 'agent');
      await ctx.api.call('revokeAgent', { params: { tenant: await ctx.tenant(), agentId } });
      if (ctx.json) return printJson({ revoked: agentId });
      print(`Revoked agent ${agentId}. Grants already on the host still end on their own schedule there.`);
    });

  agents
    .command('token')
    .description('a one-time enrolment token for a new host (shown only this once)')
    .option('--name <name>', 'the agent\'s name in the fleet (default: its host name)')
    .option('--expires-minutes <minutes>', 'valid for this long (default 60)', intArg(1, 7 * 24 * 60))
    .option('--json', 'machine-readable output (includes the token)')
    .action(async (opts: { name?: string; expiresMinutes?: number }, cmd: Command) => {
      const ctx = await connect(cmd);
      const t = await ctx.api.call('createAgentEnrolmentToken', {
        params: { tenant: await ctx.tenant() },
        body: {
          ...(opts.name ? { name: opts.name } : {}),
          ...(opts.expiresMinutes !== undefined ? { expiresInMinutes: opts.expiresMinutes } : {}),
        },
      });
      if (ctx.json) return printJson(t);
      print(`Enrolment token${t.name ? ` for ${clean(t.name)}` : ''}, single use, valid until ${when(t.expiresAt)}:`);
      print(`  ${t.token}`);
      print('On the host, as root:');
      print(`  TIMEBOX_ENROLMENT_TOKEN=<token> timebox agent enroll --server ${ctx.conn.server} --state-dir /var/lib/timebox-agent`);
    });
}
