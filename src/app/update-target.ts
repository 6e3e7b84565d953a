/**
 * Changing a target's name or settings (a rotated service password, a new CA, another DC). Keys
 * left out of `config` keep their stored value, so secrets need not be typed again — unless a
 * field that decides where or to whom they go changes (the kind's `secretBinding`): then every
 * secret must be given again, before anything is sent anywhere, so a stored secret never follows
 * a changed address. The merged config is validated by the kind's schema like a new one. The new
 * settings are tested before they are saved: settings that fail the test are refused unless the
 * admin saves anyway (`saveUnchecked`, the target is then listed broken); while grants on the
 * target are live they are refused even then, because revoking those grants depends on them.
 * Refusals are audited, with the target's name.
 */
import { isDeepStrictEqual } from 'node:util';
import { AppError, badRequest, conflict } from '../core/errors.js';
import type { CheckReport } from '../connectors/contract.js';
import { AGENT_TARGET_KINDS } from '../connectors/linux-agent/config.js';
import type { Actor, AppDeps } from './deps.js';
import { readRules } from '../core/policy-rules.js';
import { gatewayOnlyProblem } from './gateway-only.js';
import { checkColumns, checkFailed, configContext, configRefused, getTarget, testSettings, toTargetView, type TargetView } from './targets.js';

const LIVE = ['activating', 'active', 'revoking', 'revoke_failed'] as const;

/** Keys whose change would move live grants to another system: a new target is the honest way. */
const IDENTITY_KEYS: Record<string, string[]> = Object.fromEntries(AGENT_TARGET_KINDS.map((k) => [k, ['agentId']]));

export async function updateTarget(
  deps: AppDeps,
  actor: Actor,
  tenantId: string,
  targetId: string,
  input: { name?: string; config?: Record<string, unknown>; saveUnchecked?: boolean },
): Promise<{ target: TargetView; check: CheckReport | null }> {
  const target = await getTarget(deps, tenantId, targetId);
  // The definition only: the live instance is not needed (and would be rebuilt after the change).
  const definition = deps.connectors.definition(target.kind);
  if (!definition) throw badRequest(`this server has no connector for target kind "${target.kind}"`);
  if (input.name !== undefined && input.name !== target.name) {
    const taken = await deps.db.selectFrom('targets').select('id').where('tenant_id', '=', tenantId).where('name', '=', input.name).where('deleted_at', 'is', null).executeTakeFirst();
    if (taken) throw conflict(`a target named "${input.name}" already exists`);
  }

  let configEnc = target.config_enc;
  let check: CheckReport | null = null;
  let userScopeMoved: string[] = [];
  const changedKeys = Object.keys(input.config ?? {});
  if (input.config) {
    const stored = JSON.parse(deps.secrets.decrypt(target.config_enc, configContext(target.id))) as Record<string, unknown>;
    for (const key of IDENTITY_KEYS[target.kind] ?? []) {
      if (key in input.config && input.config[key] !== stored[key]) {
        throw badRequest(`config.${key} cannot change: grants on this target belong to the old one; add a new target instead`);
      }
    }
    const parsed = definition.configSchema.safeParse({ ...stored, ...input.config });
    if (!parsed.success) throw configRefused(target.kind, parsed.error.issues);
    await refuseIfGatewayOnly(deps, target, parsed.data);
    userScopeMoved = (definition.userScopeKeys ?? []).filter((k) => !isDeepStrictEqual((parsed.data as Record<string, unknown>)[k], stored[k]));
    const binding = definition.secretBinding;
    if (binding) {
      const next = parsed.data as Record<string, unknown>;
      const moved = binding.bindings.filter((k) => !isDeepStrictEqual(next[k], stored[k]));
      const missing = binding.secrets.filter((k) => !(k in input.config!));
      if (moved.length > 0 && missing.length > 0) {
        await auditRefusal(deps, actor, tenantId, target, 'secret required for a changed address', { configKeysChanged: changedKeys, bindingKeysChanged: moved });
        throw badRequest(
          `${missing.map((k) => `config.${k}`).join(', ')} must be given again: changing ${moved.map((k) => `config.${k}`).join(', ')} decides where the stored secret would be sent`,
        );
      }
    }
    check = await testSettings(deps, target.kind, parsed.data);
    if (!check.ok) {
      const live = await deps.db
        .selectFrom('grants')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('target_id', '=', target.id)
        .where('state', 'in', LIVE)
        .executeTakeFirstOrThrow();
      if (Number(live.n) > 0) {
        const failed = check.items.filter((i) => !i.ok).map((i) => `${i.name}: ${i.message}`).join('; ');
        await auditRefusal(deps, actor, tenantId, target, 'the new settings failed the connection test', {
          configKeysChanged: changedKeys,
          failedChecks: check.items.filter((i) => !i.ok).map((i) => i.name),
        });
        throw new AppError('conflict', `not saved: ${live.n} live grant(s) on ${target.name} need these settings to be revoked, and they fail the connection test (${failed})`, { check });
      }
      if (!input.saveUnchecked) {
        await auditRefusal(deps, actor, tenantId, target, 'the new settings failed the connection test', {
          configKeysChanged: changedKeys,
          failedChecks: check.items.filter((i) => !i.ok).map((i) => i.name),
        });
        throw checkFailed(check, `the new settings of "${target.name}" were`);
      }
    }
    configEnc = deps.secrets.encrypt(JSON.stringify(parsed.data), configContext(target.id));
  }

  const now = deps.clock.now();
  const row = await deps.db.transaction().execute(async (tx) => {
    const updated = await tx
      .updateTable('targets')
      .set({ name: input.name ?? target.name, config_enc: configEnc, updated_at: now, ...(check ? checkColumns(check, now) : {}) })
      .where('id', '=', target.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    // A confirmation said "this user over there is theirs"; over there is no longer where names lead.
    const unconfirmed = userScopeMoved.length
      ? await tx
          .updateTable('jit_accounts')
          .set({ confirmed_at: null, confirmed_by: null, directory_object_id: null })
          .where('target_id', '=', target.id)
          .where('confirmed_at', 'is not', null)
          .returning('id')
          .execute()
      : [];
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'target.updated',
      subject: { type: 'target', id: target.id },
      // Which settings changed, never their values (they may be secrets).
      before: { name: target.name },
      after: {
        name: updated.name,
        configKeysChanged: changedKeys,
        ...(check && !check.ok ? { savedUnchecked: true } : {}),
        ...(unconfirmed.length ? { bindingConfirmationsCleared: unconfirmed.length } : {}),
      },
    });
    return updated;
  });
  return { target: toTargetView(row), check };
}

/** Outside any transaction: the attempt is recorded although nothing was saved. Key names only, never values. */
async function auditRefusal(deps: AppDeps, actor: Actor, tenantId: string, target: { id: string; name: string }, reason: string, after: Record<string, unknown>) {
  await deps.audit.append(deps.db, { tenantId, actor, action: 'target.update_refused', subject: { type: 'target', id: target.id }, reason, after: { name: target.name, ...after } });
}

/** A target named by a "gateway only" policy keeps a delivery that never hands out the password. */
async function refuseIfGatewayOnly(deps: AppDeps, target: { id: string; kind: string }, next: unknown): Promise<void> {
  const why = gatewayOnlyProblem(target.kind, () => next);
  if (!why) return;
  const policies = await deps.db.selectFrom('policies').select(['name', 'rules']).where('target_id', '=', target.id).where('archived_at', 'is', null).execute();
  const bound = policies.filter((p) => readRules(p.rules).gateway.only).map((p) => `"${p.name}"`);
  if (bound.length) throw badRequest(`not saved: policy ${bound.join(', ')} is "gateway only" for this target, and ${why}`);
}
