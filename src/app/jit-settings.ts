/**
 * JIT account settings per tenant and target (the seeds' "Just-in-time Accounts Access", step 1,
 * editable in place): enabled or not, the privileged groups JIT accounts may get (picked from the
 * target's live list), and the operator groups whose members may create and enable JIT accounts
 * in addition to owners, admins and approvers, who always may.
 *
 * `checkJitSettings` is called by requestAccess (and so by "enable again") before anything is
 * written, with the settings read beside the target. Without settings for a target nothing
 * changes. Whether the account name may be used (free or this JIT account's, on the target and
 * across targets) is account-ownership.ts's.
 */
import { AppError, badRequest, classifyTargetError, forbidden, policyViolation } from '../core/errors.js';
import type { TargetRow } from '../store/schema.js';
import type { Actor, AppDeps } from './deps.js';
import type { Requester } from './request-access.js';
import { entitlementExists } from './entitlement-lookup.js';
import { connectorFor, getTarget } from './targets.js';

/** Roles that may always create JIT accounts (the seeds' Primary, Super and Manager). */
export const jitCreatorRoles = ['owner', 'admin', 'approver'] as const;
import { MAX_ALLOWED_GROUPS, MAX_CREATOR_GROUPS } from '../api/endpoints/jit-settings.js';

export { MAX_ALLOWED_GROUPS, MAX_CREATOR_GROUPS };

export interface JitSettingsView {
  targetId: string;
  /** false when nothing was ever saved: requests behave as without settings. */
  configured: boolean;
  enabled: boolean;
  allowedGroups: string[];
  creatorGroupIds: string[];
  updatedAt: Date | null;
  updatedBy: string | null;
}

export interface JitSettingsInput {
  enabled: boolean;
  allowedGroups: string[];
  creatorGroupIds: string[];
}

type Deps = Pick<AppDeps, 'db' | 'connectors' | 'secrets' | 'log' | 'targetLimiter'>;

async function jitTarget(deps: Deps, tenantId: string, targetId: string): Promise<TargetRow> {
  const target = await getTarget(deps, tenantId, targetId);
  const { definition } = connectorFor(deps, target);
  if (!definition.capabilities.jitAccounts) {
    throw badRequest(
      `target "${target.name}" (${target.kind}) changes existing accounts and creates no JIT accounts; JIT account settings apply to targets that do (such as active-directory)`,
    );
  }
  return target;
}

export async function getJitSettings(deps: Deps, tenantId: string, targetId: string): Promise<JitSettingsView> {
  await jitTarget(deps, tenantId, targetId);
  const row = await deps.db
    .selectFrom('tenant_jit_settings')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('target_id', '=', targetId)
    .executeTakeFirst();
  if (!row) return { targetId, configured: false, enabled: false, allowedGroups: [], creatorGroupIds: [], updatedAt: null, updatedBy: null };
  return {
    targetId,
    configured: true,
    enabled: row.enabled,
    allowedGroups: row.allowed_groups,
    creatorGroupIds: row.creator_group_ids,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

/** Saves the settings as a whole (no disable/re-enable needed to change them), audited. */
export async function setJitSettings(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  targetId: string,
  input: JitSettingsInput,
): Promise<JitSettingsView> {
  const target = await jitTarget(deps, tenantId, targetId);
  const { definition, instance } = connectorFor(deps, target);
  const groups = [...new Set(input.allowedGroups)];
  const creators = [...new Set(input.creatorGroupIds)];
  if (groups.length > MAX_ALLOWED_GROUPS) throw badRequest(`choose at most ${MAX_ALLOWED_GROUPS} privileged groups`);
  if (creators.length > MAX_CREATOR_GROUPS) throw badRequest(`choose at most ${MAX_CREATOR_GROUPS} operator groups`);
  if (input.enabled && groups.length === 0) {
    throw badRequest('choose at least one privileged group that JIT accounts may get (or save the settings disabled)');
  }
  for (const g of groups) {
    const why = definition.validateEntitlementName(g);
    if (why) throw badRequest(why);
  }

  if (creators.length) {
    const known = await deps.db
      .selectFrom('operator_groups')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', creators.filter(isUuid))
      .execute()
      .then((rows) => new Set(rows.map((r) => r.id)));
    const unknown = creators.filter((c) => !known.has(c));
    if (unknown.length) throw badRequest(`no operator group with id ${unknown.map((u) => `"${u}"`).join(', ')} in this tenant`);
  }

  // Every group must exist on the target now: picked from the live list, checked the same way.
  const missing: string[] = [];
  for (const g of groups) {
    let exists;
    try {
      exists = await deps.targetLimiter.run(target.id, () => entitlementExists(instance, { log: deps.log }, g));
    } catch (err) {
      const e = classifyTargetError(err);
      throw new AppError('target_error', `target "${target.name}" could not be reached to check the groups: ${e.message}`);
    }
    if (!exists) missing.push(g);
  }
  if (missing.length) {
    throw badRequest(`target "${target.name}" has no group ${missing.map((m) => `"${m}"`).join(', ')}; pick groups from its entitlement list`);
  }

  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    const before = await tx
      .selectFrom('tenant_jit_settings')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('target_id', '=', targetId)
      .forUpdate()
      .executeTakeFirst();
    const values = {
      enabled: input.enabled,
      allowed_groups: groups,
      creator_group_ids: creators,
      updated_at: now,
      updated_by: actor.type === 'operator' ? actor.id : null,
    };
    await tx
      .insertInto('tenant_jit_settings')
      .values({ tenant_id: tenantId, target_id: targetId, ...values })
      .onConflict((oc) => oc.columns(['tenant_id', 'target_id']).doUpdateSet(values))
      .execute();
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'jit_settings.updated',
      subject: { type: 'target', id: targetId },
      before: before
        ? { enabled: before.enabled, allowedGroups: before.allowed_groups, creatorGroupIds: before.creator_group_ids }
        : null,
      after: { enabled: input.enabled, allowedGroups: groups, creatorGroupIds: creators },
    });
  });
  return getJitSettings(deps, tenantId, targetId);
}

const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/** What a request is checked against: the target's settings, if any were saved. */
export interface JitRules {
  enabled: boolean;
  allowed_groups: string[];
  creator_group_ids: string[];
}

const privileged = (who: Pick<Requester, 'roles'>) => who.roles.some((r) => (jitCreatorRoles as readonly string[]).includes(r));

/**
 * Called by requestAccess once the target is known and the entitlements are named, before any
 * write. With enabled settings: only allowed groups, and only permitted people (`groupIds`: the
 * requester's operator groups). With disabled settings: refused. Without settings: as before.
 * (The account name is checked by account-ownership.ts.)
 */
export function checkJitSettings(
  settings: JitRules | undefined,
  target: Pick<TargetRow, 'name'>,
  who: Pick<Requester, 'roles'>,
  entitlements: readonly string[],
  groupIds: readonly string[],
): void {
  if (!settings) return;
  if (!settings.enabled) {
    throw forbidden(`JIT accounts are disabled for this target ("${target.name}"); an owner or admin can enable them in its JIT settings`);
  }
  if (!privileged(who)) {
    const mine = new Set(groupIds);
    if (!settings.creator_group_ids.some((g) => mine.has(g))) {
      throw forbidden(
        `you may not create or enable JIT accounts on target "${target.name}": owners, admins and approvers may, and members of the operator groups chosen in its JIT settings; ask an admin to add you to one`,
      );
    }
  }
  const allowed = new Set(settings.allowed_groups);
  const refused = entitlements.filter((e) => !allowed.has(e));
  if (refused.length) {
    throw policyViolation(
      `JIT accounts on target "${target.name}" may only get the groups chosen in its JIT settings; not allowed: ${refused.map((r) => `"${r}"`).join(', ')}`,
      { notAllowed: refused },
    );
  }
}
