/**
 * `linux-agent-users` targets: sudo rules and local groups for EXISTING users of a host reached
 * through its enrolled agent (the pair of `linux-agent`, as `active-directory-groups` is of
 * `active-directory`). The account name is the person's existing user on the host, chosen at their
 * first request and fixed per person and target; nothing is created and no password is involved.
 *
 * - grant: `sudo-elevation` when a sudo rule is asked (with any groups), else `group-membership`,
 *   from the grant's start to its end, ending the user's processes at the end (a root shell from
 *   sudo and a process's group credentials outlive the rule and the membership).
 * - Only the host knows its users: the agent refuses a user that does not exist or is a system
 *   account (uid < 1000). The grant waits briefly for the agent's verdict so a refusal fails the
 *   request with the agent's reason; an agent that does not answer in time (offline) leaves the
 *   grant active, and a later refusal ends it with the reason as its last error.
 * - Several live grants of the same user are fine: each has its own sudoers drop-in, and the agent
 *   keeps a group another live grant still holds.
 * - revoke, verify, extend: shared with `linux-agent` (agent-target.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { invalid } from '../../core/errors.js';
import type { GrantSpecInput } from '../../agent-wire/protocol.js';
import type { ConnectorContext, ConnectorDefinition, ConnectorInstance, Entitlement, GrantResult, GrantSpec } from '../contract.js';
import { AgentTargetInstance, checkedForAgent, offeredEntitlement, type AgentTargetDeps } from './agent-target.js';
import {
  entitlementSetProblem,
  existingUserNameProblem,
  linuxAccountNameRules,
  LINUX_AGENT_USERS_KIND,
  LinuxAgentUsersConfigSchema,
  usersEntitlementNameProblem,
  type LinuxAgentUsersConfig,
} from './config.js';

export interface LinuxAgentUsersConnectorDeps extends AgentTargetDeps {
  /** How long a grant waits for the agent to accept or refuse it (default 10 s; 0: never). */
  verdictWaitMs?: number;
}

/** Only an agent heard from this recently is waited for: an offline one would only cost the wait. */
const ANSWERS_WITHIN_MS = 90_000;

export function createLinuxAgentUsersConnector(deps: LinuxAgentUsersConnectorDeps): ConnectorDefinition<LinuxAgentUsersConfig, typeof LINUX_AGENT_USERS_KIND> {
  return {
    kind: LINUX_AGENT_USERS_KIND,
    label: 'Linux host, existing users (agent)',
    help: 'A grant gives a person’s existing user on a host a sudo rule or groups for a time, through its enrolled agent; no account is created.',
    accountNameRules: { ...linuxAccountNameRules, hint: 'The person’s existing user on the host (up to 32 lowercase letters, digits, "_" and "-").' },
    configSchema: LinuxAgentUsersConfigSchema,
    // The agent ends the grant itself (its schedule, sudo NOTAFTER); nothing is created.
    capabilities: { nativeExpiry: true, endsSessions: true, canRotate: false, jitAccounts: false },
    validateAccountName: existingUserNameProblem,
    validateEntitlementName: usersEntitlementNameProblem,
    // Unused (no password), but the core always generates one.
    passwordPolicy: { length: 24 },
    async validateRequest(ask) {
      if (ask.publicKey !== undefined) return 'linux-agent-users targets do not take a public key';
      return entitlementSetProblem(ask.entitlements);
    },
    create: (config) => new LinuxAgentUsersInstance(config, deps),
  };
}

class LinuxAgentUsersInstance extends AgentTargetInstance implements ConnectorInstance {
  private readonly verdictWaitMs: number;

  constructor(
    private readonly config: LinuxAgentUsersConfig,
    deps: LinuxAgentUsersConnectorDeps,
  ) {
    super(config.agentId, deps);
    this.verdictWaitMs = deps.verdictWaitMs ?? 10_000;
  }

  protected entitlements(): Entitlement[] {
    return [
      ...Object.entries(this.config.sudoRules).map(([name, rule]) => {
        const others = rule.runAs.filter((u) => u !== 'root');
        return {
          externalId: `sudo:${name}`,
          displayName: `sudo ${name}`,
          description: `${others.length ? `act as ${rule.runAs.join(', ')}` : 'root'}: ${rule.commands.join(', ')}${rule.noPassword ? ' (no password)' : ''}`,
        };
      }),
      ...this.config.groups.map((g) => ({ externalId: `group:${g}`, displayName: `group ${g}`, description: `temporary membership of the local group ${g}` })),
    ];
  }

  private map(entitlements: string[]): { groups: string[]; sudoRule: string | null } {
    const problem = entitlementSetProblem(entitlements);
    if (problem) throw invalid(problem);
    const out = { groups: [] as string[], sudoRule: null as string | null };
    for (const e of entitlements) {
      const p = usersEntitlementNameProblem(e);
      if (p) throw invalid(p);
      const o = offeredEntitlement(this.config, e);
      if ('sudoRule' in o) out.sudoRule = o.sudoRule;
      else out.groups.push(o.group);
    }
    if (!out.sudoRule && out.groups.length === 0) throw invalid('ask for sudo:<rule> or group:<name>');
    return out;
  }

  async grant(_ctx: ConnectorContext, spec: GrantSpec): Promise<GrantResult> {
    const mapped = this.map(spec.entitlements);
    const username = spec.account.username;
    const nameProblem = existingUserNameProblem(username);
    if (nameProblem) throw invalid(nameProblem);
    const now = this.clock.now();
    const startAt = spec.startsAt && spec.startsAt < spec.notAfter ? spec.startsAt : now;
    const agentSpec: GrantSpecInput = {
      grantId: spec.grantId,
      kind: mapped.sudoRule ? 'sudo-elevation' : 'group-membership',
      username,
      groups: mapped.groups,
      ...(mapped.sudoRule ? { sudo: this.config.sudoRules[mapped.sudoRule] } : {}),
      startAt: startAt.toISOString(),
      endAt: spec.notAfter.toISOString(),
      endSessions: true,
    };
    const agent = await this.putGrant({ grantId: spec.grantId, tenantId: spec.tenantId, username, spec: checkedForAgent(agentSpec), passwordEnc: null });
    const seen = agent.last_seen_at?.getTime() ?? 0;
    if (this.verdictWaitMs > 0 && this.clock.now().getTime() - seen < ANSWERS_WITHIN_MS) await this.awaitVerdict(spec.grantId, agent.hostname);
    return {
      handle: { agentId: agent.id, grantId: spec.grantId, username, kind: agentSpec.kind, groups: mapped.groups, sudoRule: mapped.sudoRule },
      credential: null,
    };
  }

  /** Throws the agent's reason when it refuses the grant within the wait; returns on any other answer or none. */
  private async awaitVerdict(grantId: string, hostname: string): Promise<void> {
    const deadline = Date.now() + this.verdictWaitMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
      const row = await this.db.selectFrom('agent_grants').select(['agent_status', 'agent_message']).where('grant_id', '=', grantId).executeTakeFirst();
      if (!row || row.agent_status !== 'sent') {
        if (row?.agent_status === 'rejected') throw invalid(`the agent on ${hostname} refused the grant: ${row.agent_message ?? 'no reason given'}`);
        return;
      }
      if (Date.now() + delay > deadline) return;
      await sleep(delay);
    }
  }
}
