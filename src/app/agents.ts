/**
 * The fleet of Linux endpoint agents (docs/agent.md): one-time enrolment tokens, enrolment (a
 * token exchanged for an agent identity bound to the agent's public key), the fleet view and
 * revocation. A token is stored hashed, expires, and is consumed atomically with the agent's
 * creation: used twice, expired or unknown, it is refused and nothing is created.
 */
import { randomUUID } from 'node:crypto';
import { AppError, badRequest, conflict, notFound } from '../core/errors.js';
import { generateToken, sha256Hex } from '../secrets/password.js';
import { agentsDb, storeTx, type AgentRow } from '../store/schema-agents.js';
import { parseAgentPublicKey } from '../agent-wire/signing.js';
import { issueAsSentence } from '../core/zod-issues.js';
import type { EnrollRequest } from '../agent-wire/protocol.js';
import type { Actor, AppDeps } from './deps.js';
import { wakeAgent } from './agent-wakes.js';

export const ENROLMENT_TOKEN_PREFIX = 'tbe_';
import { MAX_ENROLMENT_MINUTES } from '../api/endpoints/agents.js';

export { MAX_ENROLMENT_MINUTES };

export interface EnrolmentTokenCreated {
  id: string;
  name: string | null;
  /** Shown once; only its hash is stored. */
  token: string;
  expiresAt: Date;
}

export async function createEnrolmentToken(
  deps: Pick<AppDeps, 'db' | 'audit' | 'clock'>,
  actor: Actor,
  tenantId: string,
  input: { name?: string | null; expiresInMinutes: number },
): Promise<EnrolmentTokenCreated> {
  const token = ENROLMENT_TOKEN_PREFIX + generateToken(32);
  const id = randomUUID();
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + input.expiresInMinutes * 60_000);
  const name = input.name?.trim() || null;
  await deps.db.transaction().execute(async (tx) => {
    await agentsDb(tx)
      .insertInto('agent_enrolment_tokens')
      .values({ id, tenant_id: tenantId, name, token_hash: sha256Hex(token), created_by: actor.id, created_at: now, expires_at: expiresAt })
      .execute();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'agent.enrolment_token_created',
      subject: { type: 'agent_enrolment_token', id },
      after: { name, expiresAt: expiresAt.toISOString() },
    });
  });
  return { id, name, token, expiresAt };
}

const refused = (why: string) => new AppError('unauthorized', `enrolment refused: ${why}; ask an administrator for a new token (timebox agents token)`);

/** Exchanges a one-time token for an agent id bound to `publicKey`. */
export async function enrollAgent(
  deps: Pick<AppDeps, 'db' | 'audit' | 'clock'>,
  input: EnrollRequest,
): Promise<{ agent: AgentRow; tenantSlug: string }> {
  try {
    parseAgentPublicKey(input.publicKey);
  } catch (err) {
    const issue = { path: 'body.publicKey', message: (err as Error).message };
    throw badRequest(issueAsSentence(issue), { issues: [issue] });
  }
  const db = agentsDb(deps.db);
  const hash = sha256Hex(input.token.trim());
  const now = deps.clock.now();
  const agentId = randomUUID();
  return db.transaction().execute(async (tx) => {
    // One statement decides: a second use (even a concurrent one) finds used_at set.
    const token = await tx
      .updateTable('agent_enrolment_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst();
    if (!token) {
      const known = await tx.selectFrom('agent_enrolment_tokens').select(['used_at', 'expires_at']).where('token_hash', '=', hash).executeTakeFirst();
      if (!known) throw refused('the enrolment token is not valid');
      if (known.used_at) throw refused('this enrolment token was already used');
      throw refused(`this enrolment token expired at ${known.expires_at.toISOString()}`);
    }
    const agent = await tx
      .insertInto('agents')
      .values({
        id: agentId,
        tenant_id: token.tenant_id,
        name: token.name ?? input.hostname,
        hostname: input.hostname,
        public_key: input.publicKey,
        agent_version: input.version,
        enrolled_at: now,
        enrolment_token_id: token.id,
        last_seen_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await tx.updateTable('agent_enrolment_tokens').set({ agent_id: agentId }).where('id', '=', token.id).execute();
    await deps.audit.append(storeTx(tx), {
      tenantId: token.tenant_id,
      actor: { type: 'agent', id: agentId },
      action: 'agent.enrolled',
      subject: { type: 'agent', id: agentId },
      after: { name: agent.name, hostname: input.hostname, version: input.version, enrolmentTokenId: token.id },
    });
    const tenant = await tx.selectFrom('tenants').select('slug').where('id', '=', token.tenant_id).executeTakeFirstOrThrow();
    return { agent, tenantSlug: tenant.slug };
  });
}

export interface AgentView {
  id: string;
  name: string;
  hostname: string;
  version: string;
  enrolledAt: Date;
  lastSeenAt: Date | null;
  health: unknown;
  revoked: boolean;
  revokedAt: Date | null;
  desiredVersion: number;
  appliedVersion: number;
}

export function toAgentView(a: AgentRow): AgentView {
  let health: unknown = null;
  try {
    health = a.health ? JSON.parse(a.health) : null;
  } catch {
    health = null;
  }
  return {
    id: a.id,
    name: a.name,
    hostname: a.hostname,
    version: a.agent_version,
    enrolledAt: a.enrolled_at,
    lastSeenAt: a.last_seen_at,
    health,
    revoked: a.revoked_at !== null,
    revokedAt: a.revoked_at,
    desiredVersion: Number(a.desired_version),
    appliedVersion: Number(a.applied_version),
  };
}

export async function listAgents(
  deps: Pick<AppDeps, 'db'>,
  tenantId: string,
  page: { limit: number; after?: [string, string] },
): Promise<{ items: AgentView[]; next: [string, string] | null }> {
  let q = agentsDb(deps.db).selectFrom('agents').selectAll().where('tenant_id', '=', tenantId).orderBy('name').orderBy('id').limit(page.limit + 1);
  if (page.after) {
    const [name, id] = page.after;
    q = q.where((eb) => eb.or([eb('name', '>', name), eb.and([eb('name', '=', name), eb('id', '>', id)])]));
  }
  const rows = await q.execute();
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return { items: items.map(toAgentView), next: rows.length > page.limit && last ? [last.name, last.id] : null };
}

export async function getAgent(deps: Pick<AppDeps, 'db'>, tenantId: string, agentId: string): Promise<AgentRow> {
  const row = await agentsDb(deps.db).selectFrom('agents').selectAll().where('tenant_id', '=', tenantId).where('id', '=', agentId).executeTakeFirst();
  if (!row) throw notFound(`agent ${agentId}`);
  return row;
}

/** Locks the agent out at once: its next request (and any long poll it holds) answers 401. */
export async function revokeAgent(deps: Pick<AppDeps, 'db' | 'audit' | 'clock'>, actor: Actor, tenantId: string, agentId: string): Promise<AgentView> {
  const now = deps.clock.now();
  const row = await deps.db.transaction().execute(async (tx) => {
    const updated = await agentsDb(tx)
      .updateTable('agents')
      .set({ revoked_at: now, revoked_by: actor.id })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', agentId)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (!updated) return null;
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'agent.revoked',
      subject: { type: 'agent', id: agentId },
      before: { name: updated.name, hostname: updated.hostname },
    });
    return updated;
  });
  wakeAgent(agentId);
  // Already revoked: the same answer (idempotent); unknown: 404.
  return toAgentView(row ?? (await getAgent(deps, tenantId, agentId)));
}

/**
 * A `linux-agent` target must name an agent of the same tenant that is not revoked, and no other
 * target may name the same agent (one host target per agent). Called before the target is stored.
 */
export async function assertAgentTargetConfig(
  deps: Pick<AppDeps, 'db' | 'secrets'>,
  tenantId: string,
  config: { agentId: string },
  kind = 'linux-agent',
): Promise<void> {
  const agent = await agentsDb(deps.db).selectFrom('agents').select(['id', 'revoked_at', 'name']).where('tenant_id', '=', tenantId).where('id', '=', config.agentId).executeTakeFirst();
  if (!agent) throw badRequest(`config.agentId: no agent ${config.agentId} is enrolled in this tenant (see GET …/agents)`);
  if (agent.revoked_at) throw badRequest(`config.agentId: agent ${agent.name} was revoked; enrol the host again`);
  const others = await deps.db.selectFrom('targets').select(['id', 'name', 'config_enc']).where('tenant_id', '=', tenantId).where('kind', '=', kind).where('deleted_at', 'is', null).execute();
  for (const t of others) {
    let other: { agentId?: unknown };
    try {
      other = JSON.parse(deps.secrets.decrypt(t.config_enc, `target:${t.id}:config`)) as { agentId?: unknown };
    } catch {
      continue;
    }
    if (other.agentId === config.agentId) throw conflict(`agent ${agent.name} already has a ${kind} target ("${t.name}"); one per agent`);
  }
}
