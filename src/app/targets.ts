/** Connected systems: added with a validated, encrypted config, checked, asked for entitlements. */
import { randomUUID } from 'node:crypto';
import { badRequest, notFound, AppError } from '../core/errors.js';
import { invalidFields } from '../core/zod-issues.js';
import type { z } from 'zod';
import type { CheckItem, CheckReport, ConnectorInstance, ConnectorDefinition, EntitlementPage } from '../connectors/contract.js';
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
  /** The last connection test; `ok: false` marks the target broken until a test passes. */
  lastCheck: { ok: boolean; at: Date; items: CheckItem[] } | null;
}

export const toTargetView = (t: TargetRow): TargetView => ({
  id: t.id,
  name: t.name,
  kind: t.kind,
  createdAt: t.created_at,
  updatedAt: t.updated_at,
  lastCheck:
    t.last_check_ok === null || t.last_check_at === null
      ? null
      : { ok: t.last_check_ok, at: t.last_check_at, items: (typeof t.last_check === 'string' ? JSON.parse(t.last_check) : (t.last_check ?? [])) as CheckItem[] },
});

/** The connection test's outcome as stored with the target. */
export const checkColumns = (check: CheckReport, at: Date) => ({ last_check_ok: check.ok, last_check_at: at, last_check: JSON.stringify(check.items) });

/** The connector's config objections as issues at their fields (`body.config.<path>`), for forms. */
export function configRefused(kind: string, issues: readonly z.core.$ZodIssue[]): AppError {
  return invalidFields(`The ${kind} target's settings are not valid.`, issues, 'config');
}

/** A failed connection test, refused with its findings unless the admin saves anyway. */
export function checkFailed(check: CheckReport, what: string): AppError {
  const failed = check.items.filter((i) => !i.ok).map((i) => `${i.name}: ${i.message}`).join('; ');
  return new AppError(
    'target_check_failed',
    `${what} not saved: the connection test failed (${failed}). Fix the settings, or save anyway (saveUnchecked) and the target is listed as broken until a test passes`,
    { check },
  );
}

export const configContext = (targetId: string) => `target:${targetId}:config`;

export async function getTarget(deps: Pick<AppDeps, 'db'>, tenantId: string, targetId: string): Promise<TargetRow> {
  const row = await deps.db
    .selectFrom('targets')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', targetId)
    .where('deleted_at', 'is', null)
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
  input: { name: string; kind: string; config: unknown; saveUnchecked?: boolean },
): Promise<{ target: TargetView; check: CheckReport }> {
  const definition = deps.connectors.definition(input.kind);
  if (!definition) {
    throw badRequest(`unknown target kind "${input.kind}"; this server supports: ${deps.connectors.kinds().join(', ')}`);
  }
  const parsed = definition.configSchema.safeParse(input.config);
  if (!parsed.success) throw configRefused(input.kind, parsed.error.issues);
  // A host target names an agent of this tenant, and only one target may name it.
  if (AGENT_TARGET_KINDS.includes(input.kind)) await assertAgentTargetConfig(deps, tenantId, parsed.data as { agentId: string }, input.kind);

  const existing = await deps.db
    .selectFrom('targets')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('name', '=', input.name)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (existing) throw new AppError('conflict', `a target named "${input.name}" already exists`);

  // Tested before anything is stored: a target that cannot work is not saved by accident.
  const check = await testSettings(deps, input.kind, parsed.data);
  if (!check.ok && !input.saveUnchecked) {
    await deps.audit.append(deps.db, {
      tenantId,
      actor,
      action: 'target.create_refused',
      subject: { type: 'target', id: null },
      reason: 'the connection test failed',
      after: { name: input.name, kind: input.kind, failedChecks: check.items.filter((i) => !i.ok).map((i) => i.name) },
    });
    throw checkFailed(check, `target "${input.name}"`);
  }

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
        ...checkColumns(check, now),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'target.created',
      subject: { type: 'target', id },
      after: { name: input.name, kind: input.kind, ...(check.ok ? {} : { savedUnchecked: true }) },
    });
    return inserted;
  });
  return { target: toTargetView(row), check };
}

/** "Test connection": never throws for target problems, it reports them; the outcome is kept with the target. */
export async function checkTarget(deps: AppDeps, target: TargetRow): Promise<CheckReport> {
  let report: CheckReport;
  try {
    const { instance } = connectorFor(deps, target);
    report = await instance.check({ log: deps.log });
  } catch (err) {
    const e = classifyTargetError(err);
    report = { ok: false, items: [{ name: 'connection', ok: false, message: e.message }] };
  }
  await deps.db.updateTable('targets').set(checkColumns(report, deps.clock.now())).where('id', '=', target.id).execute();
  return report;
}

/** Settings not saved yet, tested on an instance of their own. Never throws for target problems. */
export async function testSettings(deps: AppDeps, kind: string, config: unknown): Promise<CheckReport> {
  const instance = deps.connectors.scratch(kind, config);
  try {
    return await instance.check({ log: deps.log });
  } catch (err) {
    return { ok: false, items: [{ name: 'connection', ok: false, message: classifyTargetError(err).message }] };
  } finally {
    await instance.close().catch(() => {});
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
  let q = deps.db.selectFrom('targets').selectAll().where('tenant_id', '=', tenantId).where('deleted_at', 'is', null).orderBy('name').limit(page.limit + 1);
  if (page.after) q = q.where('name', '>', page.after);
  const rows = await q.execute();
  const items = rows.slice(0, page.limit).map(toTargetView);
  return { items, next: rows.length > page.limit ? items[items.length - 1]!.name : null };
}
