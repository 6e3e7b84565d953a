/**
 * Password sign-in when a tenant requires single sign-on. An operator who is a member of such a
 * tenant signs in through its provider only — the session is global, so one tenant requiring SSO
 * is enough — except the owners that tenant names as break-glass, and only once they have an
 * authenticator app (the password route has then already checked a fresh code).
 */
import type { Kysely } from 'kysely';
import type { AuditLog } from '../../audit/types.js';
import { AppError } from '../../core/errors.js';
import type { Database } from '../../store/schema.js';

export async function assertPasswordSignInAllowed(
  deps: { db: Kysely<Database>; audit: AuditLog },
  operator: { id: string; email: string },
  mfaEnabled: boolean,
  ip: string,
): Promise<void> {
  const rows = await deps.db
    .selectFrom('tenant_sso as s')
    .innerJoin('memberships as m', 'm.tenant_id', 's.tenant_id')
    .innerJoin('tenants as t', 't.id', 's.tenant_id')
    .select(['t.id', 't.slug', 's.break_glass_emails', 'm.roles'])
    .where('m.operator_id', '=', operator.id)
    .where('s.require_sso', '=', true)
    .execute();
  if (rows.length === 0) return;
  const breakGlass = (r: (typeof rows)[number]) => r.break_glass_emails.includes(operator.email) && r.roles.includes('owner');
  const blocking = rows.filter((r) => !breakGlass(r) || !mfaEnabled);
  if (blocking.length > 0) {
    const slugs = blocking.map((r) => r.slug);
    await deps.audit.append(deps.db, {
      tenantId: blocking[0]!.id,
      actor: { type: 'operator', id: operator.id },
      action: 'auth.login_failed',
      subject: { type: 'operator', id: operator.id },
      reason: 'single sign-on required',
      after: { email: operator.email, ip, tenants: slugs },
    });
    const hint = rows.some(breakGlass) && !mfaEnabled ? ' (break-glass sign-in needs an authenticator app enrolled first)' : '';
    throw new AppError('forbidden', `tenant ${slugs.join(', ')} requires single sign-on: continue with SSO for tenant ${slugs[0]} instead of a password${hint}`, { sso: 'required', tenants: slugs });
  }
  for (const r of rows) {
    await deps.audit.append(deps.db, {
      tenantId: r.id,
      actor: { type: 'operator', id: operator.id },
      action: 'auth.break_glass_login',
      subject: { type: 'operator', id: operator.id },
      after: { email: operator.email, ip },
    });
  }
}

/**
 * When a tenant starts requiring single sign-on, the password sessions its members already hold
 * end too: otherwise a session made with a password yesterday would outlive the rule for its
 * whole lifetime. Sessions made through the tenant's provider stay, and so do those of the
 * break-glass owners who could sign in with a password now (an authenticator app enrolled).
 * Personal API tokens are deliberate credentials for scripts and are left to their owners.
 */
export async function endPasswordSessions(
  tx: Kysely<Database>,
  tenantId: string,
  breakGlassEmails: readonly string[],
  now: Date,
  /** Only this member's (one who joins a tenant that already requires it). */
  onlyOperatorId?: string,
): Promise<number> {
  let members = tx.selectFrom('memberships').select('operator_id').where('tenant_id', '=', tenantId);
  if (onlyOperatorId !== undefined) members = members.where('operator_id', '=', onlyOperatorId);
  const exempt = tx
    .selectFrom('memberships as m')
    .innerJoin('operators as o', 'o.id', 'm.operator_id')
    .select('o.id')
    .where('m.tenant_id', '=', tenantId)
    .where('o.email', 'in', breakGlassEmails.length ? [...breakGlassEmails] : [''])
    .where('o.totp_enabled_at', 'is not', null)
    .where((eb) => eb(eb.val('owner'), '=', eb.fn.any('m.roles')));
  const ended = await tx
    .updateTable('api_tokens')
    .set({ revoked_at: now })
    .where('kind', '=', 'session')
    .where('sso_tenant_id', 'is', null)
    .where('revoked_at', 'is', null)
    .where('operator_id', 'in', members)
    .where('operator_id', 'not in', exempt)
    .executeTakeFirst();
  return Number(ended.numUpdatedRows);
}
