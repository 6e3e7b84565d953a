/**
 * A tenant's single sign-on settings: which OpenID provider, which client, which claims carry
 * the email and the groups, how IdP groups map to tenant roles and operator groups, and whether
 * password sign-in is refused for the tenant's members. The client secret is encrypted at rest
 * and never leaves this module except to the token request.
 */
import { z } from 'zod';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../../audit/types.js';
import type { Clock } from '../../core/clock.js';
import { badRequest, notFound } from '../../core/errors.js';
import { roles, type Role } from '../../core/roles.js';
import type { SecretBox } from '../../secrets/types.js';
import type { Database } from '../../store/schema.js';
import type { SsoGroupMapping, SsoRoleMapping } from '../../store/schema-sso.js';
import { inTransaction, normalizeEmail, type Actor } from '../operators.js';
import { endPasswordSessions } from './require-sso.js';

type Db = Kysely<Database>;

import { ssoSettingsInput } from '../../api/endpoints/sso.js';

export { isLoopbackHost, issuerUrl, MAX_MAPPINGS, ssoSettingsInput } from '../../api/endpoints/sso.js';
export type SsoSettingsInput = z.infer<typeof ssoSettingsInput>;

export interface SsoSettingsView {
  issuer: string;
  clientId: string;
  clientSecretSet: boolean;
  scopes: string[];
  emailClaim: string;
  emailVerifiedClaim: string;
  groupsClaim: string;
  roleMappings: { group: string; roles: Role[] }[];
  groupMappings: SsoGroupMapping[];
  requireSso: boolean;
  breakGlassEmails: string[];
  updatedAt: Date;
}

/** Everything a sign-in needs, the secret decrypted; stays inside src/auth/oidc. */
export interface SsoProviderSettings extends SsoSettingsView {
  tenantId: string;
  clientSecret: string | null;
}

export const secretContext = (tenantId: string) => `tenant_sso:${tenantId}:client_secret`;

export interface SsoSettingsDeps {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  secrets: SecretBox;
}

type Row = Awaited<ReturnType<typeof readRow>>;
function readRow(db: Db, tenantId: string) {
  return db.selectFrom('tenant_sso').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
}

const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function toView(r: NonNullable<Row>): SsoSettingsView {
  return {
    issuer: r.issuer,
    clientId: r.client_id,
    clientSecretSet: r.client_secret_enc !== null,
    scopes: r.scopes,
    emailClaim: r.email_claim,
    emailVerifiedClaim: r.email_verified_claim,
    groupsClaim: r.groups_claim,
    roleMappings: parseJson<SsoRoleMapping[]>(r.role_mappings).map((m) => ({ group: m.group, roles: m.roles.filter((x): x is Role => (roles as readonly string[]).includes(x)) })),
    groupMappings: parseJson<SsoGroupMapping[]>(r.group_mappings),
    requireSso: r.require_sso,
    breakGlassEmails: r.break_glass_emails,
    updatedAt: r.updated_at,
  };
}

export function createSsoSettings(deps: SsoSettingsDeps) {
  const { db, audit, clock, secrets } = deps;

  async function get(tenantId: string): Promise<SsoSettingsView | null> {
    const r = await readRow(db, tenantId);
    return r ? toView(r) : null;
  }

  async function forSignIn(tenantId: string): Promise<SsoProviderSettings | null> {
    const r = await readRow(db, tenantId);
    if (!r) return null;
    return { ...toView(r), tenantId, clientSecret: r.client_secret_enc ? secrets.decrypt(r.client_secret_enc, secretContext(tenantId)) : null };
  }

  /** Checks names against the tenant (operator groups exist, break-glass people are owners) and saves. */
  async function set(tenantId: string, input: SsoSettingsInput, actor: Actor): Promise<SsoSettingsView> {
    const breakGlass = [...new Set(input.breakGlassEmails.map(normalizeEmail))];
    return inTransaction(db, async (tx) => {
      const existing = await tx.selectFrom('tenant_sso').select(['client_secret_enc', 'require_sso']).where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
      if (!existing && !input.clientSecret) throw badRequest('clientSecret is required the first time single sign-on is set up');
      const wanted = [...new Set(input.groupMappings.map((m) => m.operatorGroup))];
      if (wanted.length) {
        const found = await tx.selectFrom('operator_groups').select('name').where('tenant_id', '=', tenantId).where('name', 'in', wanted).execute();
        const missing = wanted.filter((w) => !found.some((f) => f.name === w));
        if (missing.length) throw badRequest(`no such operator group in this tenant: ${missing.join(', ')}`);
      }
      if (breakGlass.length) {
        const owners = await tx
          .selectFrom('memberships as m')
          .innerJoin('operators as o', 'o.id', 'm.operator_id')
          .select('o.email')
          .where('m.tenant_id', '=', tenantId)
          .where('o.email', 'in', breakGlass)
          .where((eb) => eb(eb.val('owner'), '=', eb.fn.any('m.roles')))
          .execute();
        const notOwners = breakGlass.filter((e) => !owners.some((o) => o.email === e));
        if (notOwners.length) throw badRequest(`break-glass sign-in is for owners of this tenant; not an owner here: ${notOwners.join(', ')}`);
      }
      const row = {
        issuer: input.issuer,
        client_id: input.clientId,
        client_secret_enc: input.clientSecret ? secrets.encrypt(input.clientSecret, secretContext(tenantId)) : (existing?.client_secret_enc ?? null),
        scopes: [...new Set(input.scopes)],
        email_claim: input.emailClaim,
        email_verified_claim: input.emailVerifiedClaim,
        groups_claim: input.groupsClaim,
        role_mappings: JSON.stringify(input.roleMappings),
        group_mappings: JSON.stringify(input.groupMappings),
        require_sso: input.requireSso,
        break_glass_emails: breakGlass,
        updated_at: clock.now(),
        updated_by: actor.id,
      };
      if (existing) await tx.updateTable('tenant_sso').set(row).where('tenant_id', '=', tenantId).execute();
      else await tx.insertInto('tenant_sso').values({ tenant_id: tenantId, ...row }).execute();
      const saved = toView((await readRow(tx, tenantId))!);
      const { updatedAt: _u, ...after } = saved;
      const endedSessions = input.requireSso && !existing?.require_sso ? await endPasswordSessions(tx, tenantId, breakGlass, clock.now()) : 0;
      await audit.append(tx, {
        tenantId,
        actor,
        action: existing ? 'sso.updated' : 'sso.configured',
        subject: { type: 'tenant', id: tenantId },
        after: { ...after, clientSecretChanged: Boolean(input.clientSecret), endedPasswordSessions: endedSessions },
      });
      return saved;
    });
  }

  async function remove(tenantId: string, actor: Actor): Promise<void> {
    await inTransaction(db, async (tx) => {
      const res = await tx.deleteFrom('tenant_sso').where('tenant_id', '=', tenantId).executeTakeFirst();
      if (res.numDeletedRows === 0n) throw notFound('single sign-on settings');
      await tx.deleteFrom('sso_flows').where('tenant_id', '=', tenantId).execute();
      await audit.append(tx, { tenantId, actor, action: 'sso.removed', subject: { type: 'tenant', id: tenantId } });
    });
  }

  return { get, forSignIn, set, remove };
}

export type SsoSettings = ReturnType<typeof createSsoSettings>;
