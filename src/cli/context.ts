/**
 * What a signed-in command needs: the connection, the tenant it works in (--tenant, else the
 * configured one, else the only one the operator belongs to) and name → id lookups.
 */
import type { Command } from 'commander';
import type { ApiClient } from '../api/client.js';
import type { Policy, Target } from '../api/types.js';
import { apiOf, type Conn } from './api-client.js';
import { isUuid } from './args.js';
import { loadConnection, type Connection } from './config.js';
import { CliError, ExitCode } from './exit-codes.js';

export interface Ctx {
  conn: Connection;
  /** The contract's typed client over this connection. */
  api: ApiClient;
  json: boolean;
  /** Slug of the tenant to act in; asks the server only when it must. */
  tenant(): Promise<string>;
}

/** Global options (--tenant) merged with the command's own (--json). */
export function optionsOf(cmd: Command): { tenant?: string; json?: boolean } {
  return cmd.optsWithGlobals<{ tenant?: string; json?: boolean }>();
}

export async function connect(cmd: Command): Promise<Ctx> {
  const opts = optionsOf(cmd);
  const conn = await loadConnection();
  let slug: string | undefined = opts.tenant ?? conn.tenant;
  const ctx: Ctx = {
    conn,
    api: apiOf(conn),
    json: opts.json === true,
    async tenant() {
      slug ??= await onlyTenant(conn);
      return slug;
    },
  };
  return ctx;
}

async function onlyTenant(conn: Conn): Promise<string> {
  const me = await apiOf(conn).call('me');
  const slugs = me.memberships.map((m) => m.tenant.slug);
  if (slugs.length === 1) return slugs[0]!;
  if (slugs.length === 0) {
    throw new CliError(`${me.operator.email} is not a member of any tenant; pass --tenant SLUG or ask an admin to add you`, ExitCode.usage);
  }
  throw new CliError(`you belong to several tenants; choose one with --tenant: ${slugs.join(', ')}`, ExitCode.usage);
}

/** A target by id, or by its name (looked up in the tenant's target list). */
export async function resolveTarget(ctx: Ctx, idOrName: string): Promise<Target> {
  const tenant = await ctx.tenant();
  if (isUuid(idOrName)) return ctx.api.call('getTarget', { params: { tenant, targetId: idOrName } });
  const { items } = await ctx.api.pages('listTargets', { params: { tenant } });
  return namedIn(items, idOrName, { one: 'target', many: 'targets' }, tenant);
}

/** A current policy by id or by name (`timebox policies list` shows both). */
export async function resolvePolicy(ctx: Ctx, idOrName: string): Promise<Policy> {
  const tenant = await ctx.tenant();
  const { items } = await ctx.api.call('listPolicies', { params: { tenant } });
  if (!isUuid(idOrName)) return namedIn(items, idOrName, { one: 'policy', many: 'policies' }, tenant);
  const byId = items.find((p) => p.id === idOrName.toLowerCase());
  if (!byId) throw new CliError(`no current policy has id ${idOrName} in tenant ${tenant} (it may have been edited or removed: timebox policies list)`, ExitCode.notFound);
  return byId;
}

/** The item of that exact name, else the one whose name matches ignoring case; else a refusal naming those there are. */
function namedIn<T extends { name: string }>(items: readonly T[], name: string, what: { one: string; many: string }, tenant: string): T {
  const exact = items.find((t) => t.name === name);
  if (exact) return exact;
  const folded = items.filter((t) => t.name.toLowerCase() === name.toLowerCase());
  if (folded.length === 1) return folded[0]!;
  const known = items.length ? `; ${what.many}: ${items.map((t) => t.name).join(', ')}` : `; this tenant has no ${what.many} yet`;
  throw new CliError(`no ${what.one} named ${JSON.stringify(name)} in tenant ${tenant}${known}`, ExitCode.notFound);
}

/** Where a newcomer finds the id a command asks for, for the refusal of anything else. */
const idListedBy: Record<string, string> = {
  grant: 'timebox grants list',
  'grant or extension': 'timebox approvals list',
  'JIT account': 'timebox jit-accounts list',
  operator: 'timebox members list',
  policy: 'timebox policies list',
  agent: 'timebox agents list',
  session: 'timebox sessions list',
  token: 'timebox tokens list',
  key: 'timebox ssh-keys list',
};

/** A path segment the user typed: ids go into URLs, so nothing that could change the path. */
export function idArg(id: string, what: string): string {
  if (!isUuid(id)) {
    const article = /^[aeiou]/i.test(what) ? 'an' : 'a';
    const where = idListedBy[what];
    throw new CliError(`${JSON.stringify(id)} is not ${article} ${what} id (a UUID such as 0b6f4c1e-...)${where ? `; see the ID column of ${where}` : ''}`, ExitCode.usage);
  }
  return id.toLowerCase();
}
