/**
 * What every host target kind does the same way (`linux-agent`, `linux-agent-users`): the host is
 * reached only through its enrolled agent, which connects out, so the connector never talks to the
 * host. It edits the agent's desired state in the database (bumping its version and waking its
 * long poll) and reads back what the agent's journal confirmed.
 *
 * - revoke: the grant leaves the desired state; the agent ends it at once.
 * - verify: 'absent' once the agent reported the end verified on the host (or it refused the
 *   grant, or it provably never received it); until then a transient error, so the core retries.
 * - extend: the new end goes into the grant's spec; the agent re-runs its activation.
 *
 * The kinds differ only in what a grant asks of the agent (`grant`) and which entitlements exist.
 */
import type { Kysely } from 'kysely';
import { invalid, permanent, transient } from '../../core/errors.js';
import { findings as finding } from '../../core/findings.js';
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import type { SecretBox } from '../../secrets/types.js';
import type { Database } from '../../store/schema.js';
import { agentsDb, storeTx, type AgentRow, type AgentsTx } from '../../store/schema-agents.js';
import { GrantSpecSchema, type GrantSpec as AgentGrantSpec, type GrantSpecInput, type SudoRule } from '../../agent-wire/protocol.js';
import { bumpDesiredVersion } from '../../app/agent-channel.js';
import { wakeAgent } from '../../app/agent-wakes.js';
import { dropHostCredentials } from '../../notify/host-credentials.js';
import type { CheckItem, ConnectorContext, Entitlement, RevokeSpec, VerifyResult } from '../contract.js';

export interface AgentTargetDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  clock?: Clock;
}

/** How recently an agent must have been seen for "Test connection" to call it reachable. */
const SEEN_RECENTLY_MS = 5 * 60_000;

/** Checks `spec` against the agent's own schema: what it would refuse is refused here, before anything is written. */
export function checkedForAgent(spec: GrantSpecInput): AgentGrantSpec {
  const checked = GrantSpecSchema.safeParse(spec);
  if (!checked.success) throw invalid(`the agent would refuse this grant: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return checked.data;
}

/** What a host target offers beyond roles: named sudo rules and local groups. */
export interface OfferedOnHost {
  sudoRules: Record<string, SudoRule>;
  groups: string[];
}

/** A `sudo:<rule>` or `group:<name>` entitlement (already name-checked) that the target must offer. */
export function offeredEntitlement(config: OfferedOnHost, e: string): { sudoRule: string } | { group: string } {
  if (e.startsWith('sudo:')) {
    const name = e.slice(5);
    if (!config.sudoRules[name]) throw invalid(`this host target has no sudo rule named ${name}`);
    return { sudoRule: name };
  }
  const g = e.slice(6);
  if (!config.groups.includes(g)) throw invalid(`this host target does not offer the group ${g}`);
  return { group: g };
}

export interface PutGrant {
  grantId: string;
  tenantId: string | undefined;
  username: string;
  /** As checked by `checkedForAgent`; a password in it is stored only as `passwordEnc`. */
  spec: AgentGrantSpec;
  passwordEnc: string | null;
  /** Runs in the transaction before anything is written: refuse a clash with other grants of the user. */
  clash?(tx: AgentsTx, agent: AgentRow): Promise<void>;
  /** Runs in the transaction after the row is written; `passwordReplaced` when a retried activation's new password took effect. */
  also?(tx: AgentsTx, agent: AgentRow, r: { inserted: boolean; passwordReplaced: boolean }): Promise<void>;
}

export abstract class AgentTargetInstance {
  protected readonly clock: Clock;

  constructor(
    protected readonly agentId: string,
    protected readonly deps: AgentTargetDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
  }

  protected get db() {
    return agentsDb(this.deps.db);
  }

  /** The entitlements this target offers. */
  protected abstract entitlements(): Entitlement[];

  protected async agent(): Promise<AgentRow | undefined> {
    return this.db.selectFrom('agents').selectAll().where('id', '=', this.agentId).executeTakeFirst();
  }

  async check(_ctx: ConnectorContext) {
    const agent = await this.agent();
    const items: CheckItem[] = [];
    if (!agent) {
      items.push({ name: 'agent', ok: false, message: `no agent ${this.agentId} is enrolled; enrol the host with timebox agent enroll` });
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

  async listEntitlements(_ctx: ConnectorContext, q: { search?: string; cursor?: string | null; limit: number }) {
    const needle = q.search?.toLowerCase() ?? '';
    const all = this.entitlements().filter((e) => !needle || e.externalId.toLowerCase().includes(needle) || e.displayName.toLowerCase().includes(needle));
    const start = q.cursor ? Math.max(0, Number.parseInt(q.cursor, 10) || 0) : 0;
    const items = all.slice(start, start + q.limit);
    return { items, nextCursor: start + q.limit < all.length ? String(start + q.limit) : null };
  }

  /** The agent for a grant of `tenantId`: enrolled in that tenant and not revoked (row locked). */
  protected async agentFor(tx: AgentsTx, tenantId: string | undefined): Promise<AgentRow> {
    const agent = await tx.selectFrom('agents').selectAll().where('id', '=', this.agentId).forUpdate().executeTakeFirst();
    if (!agent) throw permanent(`agent ${this.agentId} is not enrolled`);
    if (!tenantId || agent.tenant_id !== tenantId) throw permanent(`agent ${this.agentId} does not belong to this tenant`);
    if (agent.revoked_at) throw permanent(`agent ${agent.name} (${agent.hostname}) was revoked; enrol the host again`);
    return agent;
  }

  /**
   * Writes the grant into the agent's desired state (idempotent on the grant id: a retried
   * activation rewrites the same row) and wakes the agent. The spec is stored as the agent will
   * read it (defaults filled in), never with the password.
   */
  protected async putGrant(p: PutGrant): Promise<AgentRow> {
    const now = this.clock.now();
    const agent = await this.db.transaction().execute(async (tx) => {
      const agent = await this.agentFor(tx, p.tenantId);
      const existing = await tx.selectFrom('agent_grants').selectAll().where('grant_id', '=', p.grantId).forUpdate().executeTakeFirst();
      if (existing && existing.removed_at) throw permanent(`grant ${p.grantId} was already revoked on this host`);
      await p.clash?.(tx, agent);
      const version = await bumpDesiredVersion(tx, agent.id);
      const { password: _password, ...explicit } = p.spec;
      const stored = JSON.stringify(explicit);
      let passwordReplaced = false;
      if (existing) {
        // The same grant again (a retried activation): the new password replaces one not yet used.
        passwordReplaced = existing.agent_status === 'sent' || existing.agent_status === 'accepted';
        const patch = passwordReplaced ? { password_enc: p.passwordEnc } : {};
        await tx.updateTable('agent_grants').set({ spec: stored, ...patch, updated_at: now }).where('grant_id', '=', p.grantId).execute();
      } else {
        await tx
          .insertInto('agent_grants')
          .values({
            grant_id: p.grantId,
            agent_id: agent.id,
            tenant_id: agent.tenant_id,
            username: p.username,
            spec: stored,
            password_enc: p.passwordEnc,
            added_version: version,
            agent_status: 'sent',
            created_at: now,
            updated_at: now,
          })
          .execute();
      }
      await p.also?.(tx, agent, { inserted: !existing, passwordReplaced });
      return agent;
    });
    wakeAgent(agent.id);
    return agent;
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
      // A credential email still waiting for the account is given up (its password erased).
      await dropHostCredentials(storeTx(tx), spec.grantId, 'the grant ended before the account was ready; no credentials were sent');
      return row.agent_id;
    });
    if (agentId) wakeAgent(agentId);
  }

  async verify(_ctx: ConnectorContext, spec: RevokeSpec): Promise<VerifyResult> {
    const row = await this.db.selectFrom('agent_grants').selectAll().where('grant_id', '=', spec.grantId).executeTakeFirst();
    if (!row) return { state: 'absent', findings: [] };
    if (row.agent_status === 'ended' || row.agent_status === 'rejected') return { state: 'absent', findings: [] };
    if (!row.removed_at) return { state: 'present', findings: [finding.desiredState(row.agent_id)] };
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
