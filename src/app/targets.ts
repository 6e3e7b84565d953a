/** Connected systems: added with a validated, encrypted config, checked, asked for entitlements. */
import { randomUUID } from 'node:crypto';
import { badRequest, notFound, AppError } from '../core/errors.js';
import { invalidFields } from '../core/zod-issues.js';
import type { CheckReport, ConnectorInstance, ConnectorDefinition, EntitlementPage } from '../connectors/contract.js';
import { classifyTargetError } from '../core/errors.js';
import type { TargetRow } from '../store/schema.js';
import type { Actor, AppDeps } from './deps.js';
import { assertAgentTargetConfig } from './agents.js';
import { AGENT_TARGET_KINDS } from '../connectors/linux-agent/config.js';

export interface TargetView {
  id: string;
  name: string;
  kind: string;
  createdAt: Date;
  updatedAt: Date;
}

export const toTargetView = (t: TargetRow): TargetView => ({
  id: t.id,
  name: t.name,
  kind: t.kind,
  createdAt: t.created_at,
  updatedAt: t.updated_at,
});

export const configContext = (targetId: string) => `target:${targetId}:config`;

export async function getTarget(deps: Pick<AppDeps, 'db'>, tenantId: string, targetId: string): Promise<TargetRow> {
  const row = await deps.db
    .selectFrom('targets')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', targetId)
    .executeTakeFirst();
  if (!row) throw notFound(`target ${targetId}`);
  return row;
}

export function connectorFor(
  deps: Pick<AppDeps, 'connectors' | 'secrets'>,
  target: TargetRow,
): { definition: ConnectorDefinition<any>; instance: ConnectorInstance } {
  const definition = deps.connectors.definition(target.kind);
  if (!definition) throw new AppError('bad_request', `this server has no connector for target kind "${target.kind}"`);
  const instance = deps.connectors.instance(
    { id: target.id, kind: target.kind, updatedAt: target.updated_at },
    () => JSON.parse(deps.secrets.decrypt(target.config_enc, configContext(target.id))),
  );
  return { definition, instance };
}

export async function addTarget(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  input: { name: string; kind: string; config: unknown },
): Promise<{ target: TargetView; check: CheckReport }> {
  const definition = deps.connectors.definition(input.kind);
  if (!definition) {
    throw badRequest(`unknown target kind "${input.kind}"; this server supports: ${deps.connectors.kinds().join(', ')}`);
  }
  const parsed = definition.configSchema.safeParse(input.config);
  if (!parsed.success) throw invalidFields(`The ${input.kind} target's settings are not valid.`, parsed.error.issues, 'config');
  // A host target names an agent of this tenant, and only one target may name it.
  if (AGENT_TARGET_KINDS.includes(input.kind)) await assertAgentTargetConfig(deps, tenantId, parsed.data as { agentId: string }, input.kind);

  const existing = await deps.db
    .selectFrom('targets')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('name', '=', input.name)
    .executeTakeFirst();
  if (existing) throw new AppError('conflict', `a target named "${input.name}" already exists`);

  const id = randomUUID();
  const now = deps.clock.now();
  const row = await deps.db.transaction().execute(async (tx) => {
    const inserted = await tx
      .insertInto('targets')
      .values({
        id,
        tenant_id: tenantId,
        name: input.name,
        kind: input.kind,
        config_enc: deps.secrets.encrypt(JSON.stringify(parsed.data), configContext(id)),
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'target.created',
      subject: { type: 'target', id },
      after: { name: input.name, kind: input.kind },
    });
    return inserted;
  });
  const check = await checkTarget(deps, row);
  return { target: toTargetView(row), check };
}

/** "Test connection": never throws for target problems, it reports them. */
export async function checkTarget(deps: AppDeps, target: TargetRow): Promise<CheckReport> {
  try {
    const { instance } = connectorFor(deps, target);
    return await instance.check({ log: deps.log });
  } catch (err) {
    const e = classifyTargetError(err);
    return { ok: false, items: [{ name: 'connection', ok: false, message: e.message }] };
  }
}

export async function listTargetEntitlements(
  deps: AppDeps,
  target: TargetRow,
  q: { search?: string; cursor?: string | null; limit: number },
): Promise<EntitlementPage> {
  const { instance } = connectorFor(deps, target);
  try {
    return await instance.listEntitlements({ log: deps.log }, q);
  } catch (err) {
    const e = classifyTargetError(err);
    throw new AppError('target_error', `could not list entitlements of target "${target.name}": ${e.message}`);
  }
}

export async function listTargets(
  deps: Pick<AppDeps, 'db'>,
  tenantId: string,
  page: { limit: number; after?: string | null },
): Promise<{ items: TargetView[]; next: string | null }> {
  let q = deps.db.selectFrom('targets').selectAll().where('tenant_id', '=', tenantId).orderBy('name').limit(page.limit + 1);
  if (page.after) q = q.where('name', '>', page.after);
  const rows = await q.execute();
  const items = rows.slice(0, page.limit).map(toTargetView);
  return { items, next: rows.length > page.limit ? items[items.length - 1]!.name : null };
}
