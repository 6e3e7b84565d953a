/**
 * `linux-agent` targets: a host reached only through its enrolled agent, which connects out. The
 * connector never talks to the host; it edits the agent's desired state in the database (bumping
 * its version and waking its long poll) and reads back what the agent's journal confirmed.
 *
 * - grant: a `local-account` grant named after the JIT account (role, groups, optional sudo rule)
 *   from the grant's start to its end; the agent enforces the end itself, server or not.
 * - revoke: the grant leaves the desired state; the agent ends it at once.
 * - verify: 'absent' once the agent reported the end verified on the host (or it refused the
 *   grant, or it provably never received it); until then a transient error, so the core retries.
 *
 * Built by a factory that closes over the store: no change to the connector contract.
 */
import type { Kysely } from 'kysely';
import { invalid, permanent, transient } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import type { SecretBox } from '../../secrets/types.js';
import type { Database } from '../../store/schema.js';
import { agentsDb, type AgentRow, type AgentsTx } from '../../store/schema-agents.js';
import { GrantSpecSchema, type GrantSpecInput, type LocalRole } from '../../agent/protocol.js';
import { bumpDesiredVersion, passwordContext, wakeAgent } from '../../app/agent-channel.js';
import type {
  CheckItem,
  ConnectorContext,
  ConnectorDefinition,
  ConnectorInstance,
  Entitlement,
  GrantResult,
  GrantSpec,
  RevokeSpec,
  VerifyResult,
} from '../contract.js';
import {
  entitlementNameProblem,
  entitlementSetProblem,
  LINUX_AGENT_KIND,
  LinuxAgentConfigSchema,
  linuxAccountNameProblem,
  ROLES,
  type LinuxAgentConfig,
} from './config.js';

export interface LinuxAgentConnectorDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  clock?: Clock;
}

/** How recently an agent must have been seen for "Test connection" to call it reachable. */
const SEEN_RECENTLY_MS = 5 * 60_000;

export function createLinuxAgentConnector(deps: LinuxAgentConnectorDeps): ConnectorDefinition<LinuxAgentConfig> {
  return {
    kind: LINUX_AGENT_KIND,
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

class LinuxAgentInstance implements ConnectorInstance {
  private readonly clock: Clock;

  constructor(
    private readonly config: LinuxAgentConfig,
    private readonly deps: LinuxAgentConnectorDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
  }

  private get db() {
    return agentsDb(this.deps.db);
  }

  private async agent(): Promise<AgentRow | undefined> {
    return this.db.selectFrom('agents').selectAll().where('id', '=', this.config.agentId).executeTakeFirst();
  }

  async check(_ctx: ConnectorContext) {
    const agent = await this.agent();
    const items: CheckItem[] = [];
    if (!agent) {
      items.push({ name: 'agent', ok: false, message: `no agent ${this.config.agentId} is enrolled; enrol the host with timebox agent enroll` });
      return { ok: false, items };
    }
    items.push(
      agent.revoked_at
        ? { name: 'agent', ok: false, message: `agent ${agent.name} (${agent.hostname}) was revoked; enrol the host again` }
        : { name: 'agent', ok: true, message: `agent ${agent.name} on ${agent.hostname}, version ${agent.agent_version}` },
    );
    const seen = agent.last_seen_at;
    const recent = !!seen && this.clock.now().getTime() - seen.getTime() < SEEN_RECENTLY_MS;
    items.push({
      name: 'contact',
      ok: recent,
      message: seen
        ? `last seen ${seen.toISOString()}${recent ? '' : '; is timebox agent run running on the host?'}`
        : 'never seen; start timebox agent run on the host',
    });
    return { ok: items.every((i) => i.ok), items };
  }

  private entitlements(): Entitlement[] {
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

  async listEntitlements(_ctx: ConnectorContext, q: { search?: string; cursor?: string | null; limit: number }) {
    const needle = q.search?.toLowerCase() ?? '';
    const all = this.entitlements().filter((e) => !needle || e.externalId.toLowerCase().includes(needle) || e.displayName.toLowerCase().includes(needle));
    const start = q.cursor ? Math.max(0, Number.parseInt(q.cursor, 10) || 0) : 0;
    const items = all.slice(start, start + q.limit);
    return { items, nextCursor: start + q.limit < all.length ? String(start + q.limit) : null };
  }

  private map(entitlements: string[]): Mapped {
    const problem = entitlementSetProblem(entitlements);
    if (problem) throw invalid(problem);
    const out: Mapped = { role: 'users', groups: [], sudoRule: null };
    for (const e of entitlements) {
      const p = entitlementNameProblem(e);
      if (p) throw invalid(p);
      if ((ROLES as readonly string[]).includes(e)) out.role = e as LocalRole;
      else if (e.startsWith('sudo:')) {
        const name = e.slice(5);
        if (!this.config.sudoRules[name]) throw invalid(`this host target has no sudo rule named ${name}`);
        out.sudoRule = name;
      } else {
        const g = e.slice(6);
        if (!this.config.groups.includes(g)) throw invalid(`this host target does not offer the group ${g}`);
        out.groups.push(g);
      }
    }
    return out;
  }

  /** The agent for a grant of `tenantId`: enrolled in that tenant and not revoked. */
  private async agentFor(tx: AgentsTx, tenantId: string | undefined): Promise<AgentRow> {
    const agent = await tx.selectFrom('agents').selectAll().where('id', '=', this.config.agentId).forUpdate().executeTakeFirst();
    if (!agent) throw permanent(`agent ${this.config.agentId} is not enrolled`);
    if (!tenantId || agent.tenant_id !== tenantId) throw permanent(`agent ${this.config.agentId} does not belong to this tenant`);
    if (agent.revoked_at) throw permanent(`agent ${agent.name} (${agent.hostname}) was revoked; enrol the host again`);
    return agent;
  }

  async grant(_ctx: ConnectorContext, spec: GrantSpec): Promise<GrantResult> {
    const mapped = this.map(spec.entitlements);
    const username = spec.account.username;
    const nameProblem = linuxAccountNameProblem(username);
    if (nameProblem) throw invalid(nameProblem);
    const now = this.clock.now();
    const reveal = this.config.credentialDelivery === 'reveal';
    const emailTo = this.config.emailTo ?? spec.requester?.email;
    if (!reveal && !emailTo) throw invalid('agent-email delivery needs an email address (emailTo, or the requester\'s)');
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
      ...(reveal ? { serverPassword: true } : { passwordDelivery: { channel: 'email' as const, to: emailTo! } }),
    };
    // The agent's own schema: what it would refuse is refused here, before anything is written.
    const checked = GrantSpecSchema.safeParse(reveal ? { ...agentSpec, password: spec.password } : agentSpec);
    if (!checked.success) throw invalid(`the agent would refuse this grant: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const passwordEnc = reveal ? this.deps.secrets.encrypt(spec.password, passwordContext(spec.grantId)) : null;

    const agent = await this.db.transaction().execute(async (tx) => {
      const agent = await this.agentFor(tx, spec.tenantId);
      const existing = await tx.selectFrom('agent_grants').selectAll().where('grant_id', '=', spec.grantId).forUpdate().executeTakeFirst();
      if (existing && existing.removed_at) throw permanent(`grant ${spec.grantId} was already revoked on this host`);
      const clash = await tx
        .selectFrom('agent_grants')
        .select(['grant_id', 'removed_at'])
        .where('agent_id', '=', agent.id)
        .where('username', '=', username)
        .where('grant_id', '!=', spec.grantId)
        .where('agent_status', 'not in', ['ended', 'rejected'])
        .where((eb) => eb.or([eb('removed_at', 'is', null), eb('acknowledged', '=', true)]))
        .executeTakeFirst();
      if (clash) {
        if (clash.removed_at) throw transient(`the previous grant of ${username} on ${agent.hostname} is still being ended by the agent`);
        throw invalid(`${username} already holds a live grant on ${agent.hostname}; extend it or wait for its end`);
      }
      const version = await bumpDesiredVersion(tx, agent.id);
      // Stored as the agent will read it (defaults filled in), never with the password.
      const { password: _password, ...explicit } = checked.data;
      const stored = JSON.stringify(explicit);
      if (existing) {
        // The same grant again (a retried activation): the new password replaces one not yet used.
        const patch = existing.agent_status === 'sent' || existing.agent_status === 'accepted' ? { password_enc: passwordEnc } : {};
        await tx.updateTable('agent_grants').set({ spec: stored, ...patch, updated_at: now }).where('grant_id', '=', spec.grantId).execute();
      } else {
        await tx
          .insertInto('agent_grants')
          .values({
            grant_id: spec.grantId,
            agent_id: agent.id,
            tenant_id: agent.tenant_id,
            username,
            spec: stored,
            password_enc: passwordEnc,
            added_version: version,
            agent_status: 'sent',
            created_at: now,
            updated_at: now,
          })
          .execute();
      }
      return agent;
    });
    wakeAgent(agent.id);
    return {
      handle: { agentId: agent.id, grantId: spec.grantId, username, role: mapped.role, groups: mapped.groups, sudoRule: mapped.sudoRule },
      credential: reveal ? { username, password: spec.password } : null,
    };
  }

  async revoke(_ctx: ConnectorContext, spec: RevokeSpec): Promise<void> {
    const now = this.clock.now();
    const agentId = await this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('agent_grants').select(['agent_id', 'removed_at', 'added_version']).where('grant_id', '=', spec.grantId).forUpdate().executeTakeFirst();
      if (!row || row.removed_at) return null; // never sent, or already taken out: absent is success
      const version = await bumpDesiredVersion(tx, row.agent_id);
      // Under the agent row's lock (the bump): no desired state is being served meanwhile.
      const agent = await tx.selectFrom('agents').select('served_version').where('id', '=', row.agent_id).executeTakeFirstOrThrow();
      const neverServed = Number(agent.served_version) < Number(row.added_version);
      await tx
        .updateTable('agent_grants')
        .set({ removed_at: now, removed_version: version, never_served: neverServed, password_enc: null, updated_at: now })
        .where('grant_id', '=', spec.grantId)
        .execute();
      return row.agent_id;
    });
    if (agentId) wakeAgent(agentId);
  }

  async verify(_ctx: ConnectorContext, spec: RevokeSpec): Promise<VerifyResult> {
    const row = await this.db.selectFrom('agent_grants').selectAll().where('grant_id', '=', spec.grantId).executeTakeFirst();
    if (!row) return { state: 'absent', findings: [] };
    if (row.agent_status === 'ended' || row.agent_status === 'rejected') return { state: 'absent', findings: [] };
    if (!row.removed_at) return { state: 'present', findings: [`the grant is still in the desired state of agent ${row.agent_id}`] };
    const agent = await this.db.selectFrom('agents').selectAll().where('id', '=', row.agent_id).executeTakeFirstOrThrow();
    // Taken out before any state listing it was served, or the agent applied a later state without
    // ever applying one that listed it: the host never had it.
    if (!row.acknowledged && (row.never_served || Number(agent.applied_version) >= Number(row.removed_version))) return { state: 'absent', findings: [] };
    if (agent.revoked_at) {
      throw permanent(
        `agent ${agent.name} (${agent.hostname}) was revoked before it confirmed the end; it still ends the grant on its own schedule, but check the host`,
      );
    }
    const seen = agent.last_seen_at ? `last seen ${agent.last_seen_at.toISOString()}` : 'never seen';
    throw transient(`waiting for the agent on ${agent.hostname} to confirm the end (${seen})`);
  }

  async extend(_ctx: ConnectorContext, handle: Record<string, unknown>, accountNotAfter: Date): Promise<void> {
    const grantId = typeof handle.grantId === 'string' ? handle.grantId : null;
    if (!grantId) throw permanent('the grant handle has no grant id');
    const now = this.clock.now();
    const agentId = await this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('agent_grants').select(['agent_id', 'spec', 'removed_at']).where('grant_id', '=', grantId).forUpdate().executeTakeFirst();
      if (!row || row.removed_at) throw permanent(`grant ${grantId} is not on the host any more`);
      const spec = JSON.parse(row.spec) as GrantSpecInput;
      spec.endAt = accountNotAfter.toISOString();
      await bumpDesiredVersion(tx, row.agent_id);
      await tx.updateTable('agent_grants').set({ spec: JSON.stringify(spec), updated_at: now }).where('grant_id', '=', grantId).execute();
      return row.agent_id;
    });
    wakeAgent(agentId);
  }

  async close(): Promise<void> {}
}
