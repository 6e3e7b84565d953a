/**
 * `linux-agent` targets: a new local account on a host reached only through its enrolled agent
 * (the shared part, desired state and journal, is in agent-target.ts).
 *
 * - grant: a `local-account` grant named after the JIT account (role, groups, optional sudo rule)
 *   from the grant's start to its end; the agent enforces the end itself, server or not.
 * - The password: shown once to the owner (`reveal`), emailed by the server once the agent
 *   reports the account created (`server-email`, never shown), or chosen and emailed by the agent
 *   (`agent-email`).
 * - deleteAccount: the agent deletes the account at the end of every grant; nothing is left to do
 *   but make sure no grant of that name is still on the host.
 *
 * Built by a factory that closes over the store: no change to the connector contract.
 */
import { invalid, transient } from '../../core/errors.js';
import type { GrantSpecInput, LocalRole } from '../../agent-wire/protocol.js';
import { passwordContext } from '../../app/agent-channel.js';
import { hostCredentialsRecipientProblem, queueHostCredentials, replaceHostCredentialsPassword } from '../../notify/host-credentials.js';
import { storeTx } from '../../store/schema-agents.js';
import type { ConnectorContext, ConnectorDefinition, ConnectorInstance, Entitlement, GrantResult, GrantSpec } from '../contract.js';
import { AgentTargetInstance, checkedForAgent, offeredEntitlement, type AgentTargetDeps } from './agent-target.js';
import {
  entitlementNameProblem,
  entitlementSetProblem,
  LINUX_AGENT_KIND,
  LinuxAgentConfigSchema,
  linuxAccountNameProblem,
  linuxAccountNameRules,
  ROLES,
  type LinuxAgentConfig,
} from './config.js';

export type LinuxAgentConnectorDeps = AgentTargetDeps;

export function createLinuxAgentConnector(deps: LinuxAgentConnectorDeps): ConnectorDefinition<LinuxAgentConfig, typeof LINUX_AGENT_KIND> {
  return {
    kind: LINUX_AGENT_KIND,
    label: 'Linux host (agent)',
    help: 'A grant gives a temporary local account, groups or a sudo rule on a host, through its enrolled agent.',
    accountNameRules: linuxAccountNameRules,
    configSchema: LinuxAgentConfigSchema,
    capabilities: { nativeExpiry: true, endsSessions: true, canRotate: false, jitAccounts: true },
    validateAccountName: linuxAccountNameProblem,
    validateEntitlementName: entitlementNameProblem,
    passwordPolicy: { length: 24 },
    async validateRequest(ask) {
      if (ask.publicKey !== undefined) return 'linux-agent targets do not take a public key';
      return entitlementSetProblem(ask.entitlements);
    },
    create: (config) => new LinuxAgentInstance(config, deps),
  };
}

interface Mapped {
  role: LocalRole;
  groups: string[];
  sudoRule: string | null;
}

/** Agent statuses after which nothing of a grant is left on the host. */
const DONE_ON_HOST = ['ended', 'rejected'] as const;

class LinuxAgentInstance extends AgentTargetInstance implements ConnectorInstance {
  constructor(
    private readonly config: LinuxAgentConfig,
    deps: LinuxAgentConnectorDeps,
  ) {
    super(config.agentId, deps);
  }

  protected entitlements(): Entitlement[] {
    const roleText: Record<LocalRole, string> = {
      administrators: 'a temporary local account in the administrators group (sudo or wheel)',
      'power-users': "a temporary local account in the host's power-users group",
      users: 'a temporary local account without extra groups',
    };
    return [
      ...ROLES.map((r) => ({ externalId: r, displayName: r, description: roleText[r] })),
      ...Object.entries(this.config.sudoRules).map(([name, rule]) => ({
        externalId: `sudo:${name}`,
        displayName: `sudo ${name}`,
        description: `sudo as ${rule.runAs.join(', ')}: ${rule.commands.join(', ')}${rule.noPassword ? ' (no password)' : ''}`,
      })),
      ...this.config.groups.map((g) => ({ externalId: `group:${g}`, displayName: `group ${g}`, description: `membership of the local group ${g}` })),
    ];
  }

  private map(entitlements: string[]): Mapped {
    const problem = entitlementSetProblem(entitlements);
    if (problem) throw invalid(problem);
    const out: Mapped = { role: 'users', groups: [], sudoRule: null };
    for (const e of entitlements) {
      const p = entitlementNameProblem(e);
      if (p) throw invalid(p);
      if ((ROLES as readonly string[]).includes(e)) out.role = e as LocalRole;
      else {
        const o = offeredEntitlement(this.config, e);
        if ('sudoRule' in o) out.sudoRule = o.sudoRule;
        else out.groups.push(o.group);
      }
    }
    return out;
  }

  async grant(_ctx: ConnectorContext, spec: GrantSpec): Promise<GrantResult> {
    const mapped = this.map(spec.entitlements);
    const username = spec.account.username;
    const nameProblem = linuxAccountNameProblem(username);
    if (nameProblem) throw invalid(nameProblem);
    const now = this.clock.now();
    const delivery = this.config.credentialDelivery;
    // reveal and server-email: Timebox's password, set by the agent; agent-email: the agent's own.
    const serverPassword = delivery !== 'agent-email';
    const emailTo = this.config.emailTo ?? spec.requester?.email;
    if (delivery !== 'reveal' && !emailTo) throw invalid(`${delivery} delivery needs an email address (emailTo, or the requester's)`);
    if (delivery === 'server-email') {
      const why = await hostCredentialsRecipientProblem(this.deps.db, spec.tenantId);
      if (why) throw invalid(why);
    }
    const startAt = spec.startsAt && spec.startsAt < spec.notAfter ? spec.startsAt : now;
    const agentSpec: GrantSpecInput = {
      grantId: spec.grantId,
      kind: 'local-account',
      username,
      role: mapped.role,
      groups: mapped.groups,
      ...(mapped.sudoRule ? { sudo: this.config.sudoRules[mapped.sudoRule] } : {}),
      startAt: startAt.toISOString(),
      endAt: spec.notAfter.toISOString(),
      // The account is deleted at the end: the next grant of this JIT account creates it afresh.
      endAction: 'delete',
      endSessions: true,
      ...(serverPassword ? { serverPassword: true, password: spec.password } : { passwordDelivery: { channel: 'email' as const, to: emailTo! } }),
    };
    const checked = checkedForAgent(agentSpec);
    const passwordEnc = serverPassword ? this.deps.secrets.encrypt(spec.password, passwordContext(spec.grantId)) : null;

    const agent = await this.putGrant({
      grantId: spec.grantId,
      tenantId: spec.tenantId,
      username,
      spec: checked,
      passwordEnc,
      clash: async (tx, agent) => {
        const clash = await tx
          .selectFrom('agent_grants')
          .select(['grant_id', 'removed_at'])
          .where('agent_id', '=', agent.id)
          .where('username', '=', username)
          .where('grant_id', '!=', spec.grantId)
          .where('agent_status', 'not in', DONE_ON_HOST)
          .where((eb) => eb.or([eb('removed_at', 'is', null), eb('acknowledged', '=', true)]))
          .executeTakeFirst();
        if (clash) {
          if (clash.removed_at) throw transient(`the previous grant of ${username} on ${agent.hostname} is still being ended by the agent`);
          throw invalid(`${username} already holds a live grant on ${agent.hostname}; extend it or wait for its end`);
        }
      },
      also: async (tx, agent, r) => {
        if (delivery !== 'server-email') return;
        // Queued with the grant (same transaction), sent once the agent reports the account created.
        if (r.inserted) {
          await queueHostCredentials(storeTx(tx), this.deps.secrets, {
            tenantId: agent.tenant_id,
            grantId: spec.grantId,
            to: emailTo!,
            username,
            password: spec.password,
            hostName: agent.hostname,
            startAt,
            endAt: spec.notAfter,
            now,
          });
        } else if (r.passwordReplaced) {
          await replaceHostCredentialsPassword(storeTx(tx), this.deps.secrets, spec.grantId, spec.password);
        }
      },
    });
    return {
      handle: { agentId: agent.id, grantId: spec.grantId, username, role: mapped.role, groups: mapped.groups, sudoRule: mapped.sudoRule },
      // Passwords are shown once to one person: with server-email that is the email's reader.
      credential: delivery === 'reveal' ? { username, password: spec.password } : null,
    };
  }

  /** The agent deleted the account at the end of its last grant: refuse only while one is still on the host. */
  async deleteAccount(_ctx: ConnectorContext, username: string): Promise<void> {
    const live = await this.db
      .selectFrom('agent_grants')
      .innerJoin('agents', 'agents.id', 'agent_grants.agent_id')
      .select(['agent_grants.grant_id', 'agents.hostname'])
      .where('agent_grants.agent_id', '=', this.config.agentId)
      .where('agent_grants.username', '=', username)
      .where('agent_grants.agent_status', 'not in', DONE_ON_HOST)
      // Taken out but never known to the agent: nothing of it is on the host.
      .where((eb) => eb.or([eb('agent_grants.removed_at', 'is', null), eb('agent_grants.acknowledged', '=', true)]))
      .executeTakeFirst();
    if (live) throw invalid(`grant ${live.grant_id} of ${username} is still on ${live.hostname}; wait until the agent confirms its end`);
  }
}
