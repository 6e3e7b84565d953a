/** `timebox policies add | list`. */
import { InvalidArgumentError, type Command } from 'commander';
import type { PolicyRules, Role } from '../../api/types.js';
import { csvArg, durationArg, intArg } from '../args.js';
import { connect, resolvePolicy, resolveTarget } from '../context.js';
import { formatDuration } from '../duration.js';
import { keyValues, list, print, printJson, table } from '../output.js';
import { registerPolicySimulate } from './policy-simulate.js';

interface AddOptions {
  name: string;
  max: number;
  default: number;
  roles: string[];
  target?: string;
  entitlements?: string[];
  reasonMin?: number;
  gateway?: GatewayOptions;
  json?: boolean;
}

type GatewayOptions = { only: boolean; recordInput: boolean; allowPortForwarding: boolean; allowSftp: boolean };
const GATEWAY_WORDS = { only: 'only', 'record-input': 'recordInput', 'port-forwarding': 'allowPortForwarding', sftp: 'allowSftp' } as const;

/** `--gateway only,record-input,port-forwarding,sftp` (or `none`): what the SSH gateway allows. */
function gatewayArg(value: string): GatewayOptions {
  const out: GatewayOptions = { only: false, recordInput: false, allowPortForwarding: false, allowSftp: false };
  for (const word of value.split(',').map((w) => w.trim()).filter((w) => w && w !== 'none')) {
    const key = GATEWAY_WORDS[word as keyof typeof GATEWAY_WORDS];
    if (!key) throw new InvalidArgumentError(`unknown gateway option "${word}": use ${Object.keys(GATEWAY_WORDS).join(', ')} or none`);
    out[key] = true;
  }
  return out;
}

const describeGateway = (g: GatewayOptions) =>
  list((Object.entries(GATEWAY_WORDS) as Array<[string, keyof GatewayOptions]>).filter(([, k]) => g[k]).map(([w]) => w), 'none');

/**
 * Who must approve, level by level ("none (at once)", or "1 of 2 people, then 2 of 1 group"),
 * then what lets a request past them: auto-approval rules by name, and break-glass.
 */
function describeApproval(rules: PolicyRules): string {
  const levels = rules.approvalLevels;
  const from = (l: (typeof levels)[number]) =>
    [l.approverIds.length ? `${l.approverIds.length} ${l.approverIds.length === 1 ? 'person' : 'people'}` : '', l.groupIds.length ? `${l.groupIds.length} group${l.groupIds.length === 1 ? '' : 's'}` : '']
      .filter(Boolean)
      .join(' + ');
  const parts = [levels.length === 0 ? 'none (at once)' : levels.map((l) => `${l.quorum} of ${from(l)}`).join(', then ')];
  if (levels.length > 0 && rules.autoApprove.length > 0) parts.push(`at once if: ${rules.autoApprove.map((r) => r.name).join(', ')}`);
  if (rules.breakGlass.allowed) parts.push('break-glass allowed');
  return parts.join('; ');
}

export function registerPolicies(program: Command): void {
  const policies = program.command('policies').description('who may ask for what, for how long');
  registerPolicySimulate(policies);

  policies
    .command('add')
    .description('create an access policy')
    .requiredOption('--name <name>', 'policy name')
    .requiredOption('--max <duration>', 'longest grant allowed, e.g. 4h', durationArg)
    .requiredOption('--default <duration>', 'duration when the request gives none, e.g. 1h', durationArg)
    .requiredOption('--roles <roles>', 'roles that may request under it, comma-separated (owner, admin, approver, requester, auditor)', csvArg)
    .option('--target <target>', 'only this target (id or name); default: every target')
    .option('--entitlements <list>', 'only these entitlements, comma-separated; default: any', csvArg)
    .option('--reason-min <n>', 'minimum length of the reason', intArg(0, 500))
    .option('--gateway <options>', 'SSH gateway: only (password never shown), record-input, port-forwarding, sftp; comma-separated', gatewayArg)
    .option('--json', 'machine-readable output')
    .action(async (opts: AddOptions, cmd: Command) => {
      const ctx = await connect(cmd);
      const target = opts.target ? await resolveTarget(ctx, opts.target) : null;
      const p = await ctx.api.call('createPolicy', {
        params: { tenant: await ctx.tenant() },
        body: {
          name: opts.name,
          targetId: target?.id ?? null,
          entitlements: opts.entitlements ?? null,
          // Roles as typed: the server refuses one it does not know, naming it.
          requesterRoles: opts.roles as Role[],
          maxDurationSeconds: opts.max,
          defaultDurationSeconds: opts.default,
          ...(opts.reasonMin !== undefined ? { reasonMinLength: opts.reasonMin } : {}),
          ...(opts.gateway ? { rules: { gateway: opts.gateway } } : {}),
        },
      });
      if (ctx.json) return printJson(p);
      keyValues([
        ['policy', `${p.name} (created)`],
        ['id', p.id],
        ['target', target ? target.name : 'any'],
        ['entitlements', list(p.entitlements)],
        ['roles', list(p.requesterRoles)],
        ['max', formatDuration(p.maxDurationSeconds)],
        ['default', formatDuration(p.defaultDurationSeconds)],
        ['reason min', `${p.reasonMinLength} characters`],
        ['gateway', describeGateway(p.rules.gateway)],
      ]);
    });

  policies
    .command('gateway')
    .description("set what the SSH gateway allows under a policy (saves a new version; running grants keep theirs)")
    .argument('<policy>', 'policy id or name (timebox policies list)')
    .argument('<options>', 'only, record-input, port-forwarding, sftp (comma-separated), or none', gatewayArg)
    .option('--json', 'machine-readable output')
    .action(async (id: string, gateway: GatewayOptions, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const tenant = await ctx.tenant();
      const p = await resolvePolicy(ctx, id);
      const saved = await ctx.api.call('updatePolicy', {
        params: { tenant, policyId: p.id },
        body: {
          name: p.name,
          targetId: p.targetId,
          entitlements: p.entitlements,
          requesterRoles: p.requesterRoles as Role[],
          maxDurationSeconds: p.maxDurationSeconds,
          defaultDurationSeconds: p.defaultDurationSeconds,
          reasonMinLength: p.reasonMinLength,
          pendingTtlSeconds: p.pendingTtlSeconds,
          rules: { ...p.rules, gateway },
        },
      });
      if (ctx.json) return printJson(saved);
      print(`Saved policy ${saved.name} as ${saved.id}: gateway ${describeGateway(saved.rules.gateway)}.`);
    });

  policies
    .command('list')
    .description('access policies of the tenant')
    .option('--json', 'machine-readable output')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const { items } = await ctx.api.call('listPolicies', { params: { tenant: await ctx.tenant() } });
      if (ctx.json) return printJson(items);
      // Names read better than ids; one extra call only when some policy names a target.
      const names = new Map<string, string>();
      if (items.some((p) => p.targetId)) {
        for (const t of (await ctx.api.pages('listTargets', { params: { tenant: await ctx.tenant() } })).items) names.set(t.id, t.name);
      }
      table(
        ['NAME', 'TARGET', 'ENTITLEMENTS', 'ROLES', 'APPROVAL', 'MAX', 'DEFAULT', 'REASON MIN', 'ID'],
        items.map((p) => [
          p.name,
          p.targetId ? (names.get(p.targetId) ?? p.targetId) : 'any',
          list(p.entitlements),
          list(p.requesterRoles),
          describeApproval(p.rules),
          formatDuration(p.maxDurationSeconds),
          formatDuration(p.defaultDurationSeconds),
          p.reasonMinLength,
          p.id,
        ]),
        'No policies yet; nobody can request access until an admin adds one (timebox policies add).',
      );
    });

  policies
    .command('remove')
    .description('remove a policy: no new requests under it; what is pending or running under it goes on')
    .argument('<policy>', 'policy id or name (timebox policies list)')
    .option('--json', 'machine-readable output')
    .action(async (idOrName: string, _opts: unknown, cmd: Command) => {
      const ctx = await connect(cmd);
      const p = await resolvePolicy(ctx, idOrName);
      await ctx.api.call('deletePolicy', { params: { tenant: await ctx.tenant(), policyId: p.id } });
      if (ctx.json) return printJson({ removed: true, id: p.id, name: p.name });
      print(`Removed policy ${p.name} (${p.id}).`);
    });
}
