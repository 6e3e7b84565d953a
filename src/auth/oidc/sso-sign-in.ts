/**
 * What a validated sign-in at a tenant's provider does in Timebox, in one transaction:
 *
 * - The person is found by (tenant, issuer, subject) once linked; otherwise by email, and an
 *   existing operator is linked only if the provider vouches for the email AND that operator is
 *   already a member of this tenant. Tenant B's provider can therefore never take over a person
 *   that only tenant A knows (even with a verified email, B's IdP does not own A's person).
 * - A new operator is created only when the provider vouches for the email and the group
 *   mapping gives a role; nobody else gets an account.
 * - Roles and mapped operator groups are set from the IdP groups at every sign-in: removed from a
 *   group at the IdP, removed here at the next sign-in; left with no role, the member is removed
 *   and refused.
 * - The session is confined to this tenant (api_tokens.sso_tenant_id).
 */
import type { MemberRemoval } from '../member-removal.js';
import type { Kysely, Transaction } from 'kysely';
import type { AuditLog } from '../../audit/types.js';
import type { Clock } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { escapeUnsafeText } from '../../core/text.js';
import { emailAddress } from '../../api/endpoints/tenants.js';
import type { Database } from '../../store/schema.js';
import type { Operators } from '../operators.js';
import { inTransaction } from '../operators.js';
import type { Tokens } from '../tokens.js';
import { interpretClaims, type SsoIdentity } from './claims.js';
import { ssoError, type IdTokenResult, type SsoFailure } from './provider-client.js';
import type { SsoProviderSettings } from './sso-settings.js';

type Db = Kysely<Database>;

export interface SsoSession {
  operator: { id: string; email: string; displayName: string };
  session: { id: string; token: string; csrfToken: string; expiresAt: Date };
}
/** The CLI's loopback flow gets its session later, when it redeems the one-time code. */
export interface SsoIdentityResult {
  operator: SsoSession['operator'];
  session: SsoSession['session'] | null;
}

export interface SsoSignInDeps {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  operators: Operators;
  tokens: Tokens;
  memberRemoval: MemberRemoval;
}

const SYSTEM = { type: 'system' as const, id: null };

export function createSsoSignIn(deps: SsoSignInDeps) {
  const { db, audit, clock, operators, tokens } = deps;

  /** A session confined to the tenant whose provider vouched for the person. */
  async function createScopedSession(tx: Db, operatorId: string, tenantId: string) {
    const session = await tokens.createSession(operatorId, tx);
    await tx.updateTable('api_tokens').set({ sso_tenant_id: tenantId }).where('id', '=', session.id).execute();
    return session;
  }

  /** Audits a refusal outside any transaction (nothing else was written) and returns the error. */
  async function refuse(tenantId: string, failure: SsoFailure, message: string, context: Record<string, unknown>, status: AppError['code'] = 'forbidden'): Promise<AppError> {
    await audit.append(db, {
      tenantId,
      actor: SYSTEM,
      action: 'auth.sso_refused',
      subject: { type: 'tenant', id: tenantId },
      reason: failure,
      after: context,
    });
    return ssoError(failure, message, status);
  }

  /** Audits any failure before the identity was known (bad state, provider errors, bad tokens). */
  async function auditFailure(tenantId: string | null, err: AppError, context: Record<string, unknown>): Promise<void> {
    await audit.append(db, {
      tenantId,
      actor: SYSTEM,
      action: 'auth.sso_refused',
      subject: { type: 'tenant', id: tenantId },
      reason: String((err.details as { sso?: unknown } | undefined)?.sso ?? err.code),
      after: { ...context, message: err.message },
    });
  }

  async function findLinked(tx: Transaction<Database>, s: SsoProviderSettings, subject: string) {
    return tx
      .selectFrom('sso_identities as i')
      .innerJoin('operators as o', 'o.id', 'i.operator_id')
      .select(['o.id', 'o.email', 'o.display_name', 'o.disabled'])
      .where('i.tenant_id', '=', s.tenantId)
      .where('i.issuer', '=', s.issuer)
      .where('i.subject', '=', subject)
      .executeTakeFirst();
  }

  /** Offboarded in this tenant (membership disabled): single sign-on must not let them back in. */
  async function disabledHere(tx: Transaction<Database>, tenantId: string, operatorId: string): Promise<boolean> {
    const m = await tx.selectFrom('memberships').select('disabled_at').where('tenant_id', '=', tenantId).where('operator_id', '=', operatorId).executeTakeFirst();
    return Boolean(m?.disabled_at);
  }

  async function isMember(tx: Transaction<Database>, tenantId: string, operatorId: string): Promise<boolean> {
    const m = await tx.selectFrom('memberships').select('operator_id').where('tenant_id', '=', tenantId).where('operator_id', '=', operatorId).executeTakeFirst();
    return Boolean(m);
  }

  async function syncOperatorGroups(tx: Transaction<Database>, s: SsoProviderSettings, operatorId: string, id: SsoIdentity, actor: { type: 'operator'; id: string }) {
    if (id.mappedOperatorGroups.length === 0) return;
    const groups = await tx.selectFrom('operator_groups').select(['id', 'name']).where('tenant_id', '=', s.tenantId).where('name', 'in', id.mappedOperatorGroups).execute();
    // A mapped operator group may have been deleted since the mapping was saved.
    if (groups.length === 0) return;
    const current = new Set(
      (
        await tx
          .selectFrom('operator_group_members')
          .select('group_id')
          .where('operator_id', '=', operatorId)
          .where('group_id', 'in', groups.map((g) => g.id))
          .execute()
      ).map((r) => r.group_id),
    );
    const added: string[] = [];
    const removed: string[] = [];
    for (const g of groups) {
      const want = id.operatorGroups.includes(g.name);
      if (want && !current.has(g.id)) {
        await tx.insertInto('operator_group_members').values({ group_id: g.id, operator_id: operatorId }).execute();
        added.push(g.name);
      } else if (!want && current.has(g.id)) {
        await tx.deleteFrom('operator_group_members').where('group_id', '=', g.id).where('operator_id', '=', operatorId).execute();
        removed.push(g.name);
      }
    }
    if (added.length || removed.length) {
      await audit.append(tx, {
        tenantId: s.tenantId,
        actor,
        action: 'sso.groups_synced',
        subject: { type: 'operator', id: operatorId },
        after: { added, removed },
      });
    }
  }

  /**
   * Turns a validated ID token into a session, or refuses (audited) with nothing created.
   * `via` says which door: the dashboard, the CLI's loopback or the device grant.
   */
  async function signIn(s: SsoProviderSettings, result: IdTokenResult, via: 'web' | 'device', ip: string): Promise<SsoSession>;
  async function signIn(s: SsoProviderSettings, result: IdTokenResult, via: 'cli', ip: string): Promise<SsoIdentityResult>;
  async function signIn(s: SsoProviderSettings, result: IdTokenResult, via: 'web' | 'cli' | 'device', ip: string): Promise<SsoIdentityResult> {
    const id = interpretClaims(s, result.subject, result.claims);
    const ctx = { via, ip, subject: id.subject, email: id.email, idpGroups: id.idpGroups };
    if (!id.email) {
      throw await refuse(s.tenantId, 'no_email', `the identity provider sent no email in the "${s.emailClaim}" claim; ask an admin to check the single sign-on settings`, ctx, 'unauthorized');
    }
    if (!emailAddress.safeParse(id.email).success) {
      // What the provider sent is kept in the audit as text, controls shown, not obeyed.
      throw await refuse(
        s.tenantId,
        'bad_email',
        `the identity provider sent "${escapeUnsafeText(id.email.slice(0, 320))}" as the email, which is not an address Timebox accepts (control, bidi, invisible, full-width or other compatibility characters, or no @); ask an admin to check the provider`,
        { ...ctx, email: escapeUnsafeText(id.email.slice(0, 320)) },
        'unauthorized',
      );
    }
    const email = id.email;
    if (!id.emailVerified) {
      throw await refuse(s.tenantId, 'email_unverified', `the identity provider does not vouch for ${email} (${s.emailVerifiedClaim} is not true); verify it there first`, ctx, 'unauthorized');
    }

    // Decisions are taken inside the transaction, so a concurrent sign-in cannot create twice.
    type Refusal = 'not_linkable' | 'operator_disabled' | 'no_role';
    /** Set when this sign-in took the person out of the tenant (see below). */
    let removed: string | null = null;
    const outcome: { refused: Refusal } | SsoIdentityResult = await inTransaction(db, async (tx): Promise<{ refused: Refusal } | SsoIdentityResult> => {
      const now = clock.now();
      let operator = await findLinked(tx, s, id.subject);
      let linkedNow = false;
      if (!operator) {
        const existing = await operators.findByEmail(email, tx);
        if (existing) {
          if (!(await isMember(tx, s.tenantId, existing.id))) return { refused: 'not_linkable' };
          operator = { id: existing.id, email: existing.email, display_name: existing.displayName, disabled: existing.disabled };
          linkedNow = true;
        }
      }
      if (operator?.disabled) return { refused: 'operator_disabled' };
      if (operator && (await disabledHere(tx, s.tenantId, operator.id))) return { refused: 'operator_disabled' };
      if (id.roles.length === 0) {
        // The IdP no longer gives this person a role here: they stop being a member.
        if (operator && (await isMember(tx, s.tenantId, operator.id))) {
          await operators.removeMembership(s.tenantId, operator.id, SYSTEM, tx);
          await deps.memberRemoval.endAccessIn(tx, s.tenantId, operator.id, SYSTEM, 'the identity provider no longer gives a role in this tenant');
          removed = operator.id;
        }
        return { refused: 'no_role' };
      }
      if (!operator) {
        const created = await operators.create({ email, displayName: id.displayName ?? email, password: null, auditTenantId: s.tenantId }, SYSTEM, tx);
        operator = { id: created.id, email: created.email, display_name: created.displayName, disabled: false };
        linkedNow = true;
      }
      const actor = { type: 'operator' as const, id: operator.id };
      const membership = await operators.setMembership(s.tenantId, operator.id, id.roles, SYSTEM, tx);
      await syncOperatorGroups(tx, s, operator.id, id, actor);
      if (linkedNow) {
        await tx
          .insertInto('sso_identities')
          .values({ tenant_id: s.tenantId, issuer: s.issuer, subject: id.subject, operator_id: operator.id, created_at: now, last_sign_in_at: now })
          .execute();
      } else {
        await tx
          .updateTable('sso_identities')
          .set({ last_sign_in_at: now })
          .where('tenant_id', '=', s.tenantId)
          .where('issuer', '=', s.issuer)
          .where('subject', '=', id.subject)
          .execute();
      }
      const session = via === 'cli' ? null : await createScopedSession(tx, operator.id, s.tenantId);
      await audit.append(tx, {
        tenantId: s.tenantId,
        actor,
        action: 'auth.sso_login',
        subject: session ? { type: 'session', id: session.id } : { type: 'operator', id: operator.id },
        after: { ...ctx, roles: membership.roles, previousRoles: membership.previousRoles, linked: linkedNow, expiresAt: session?.expiresAt ?? null },
      });
      return { operator: { id: operator.id, email: operator.email, displayName: operator.display_name }, session };
    });

    if (removed) await deps.memberRemoval.afterCommit(s.tenantId, removed, SYSTEM);
    if ('refused' in outcome) {
      const messages: Record<Refusal, string> = {
        not_linkable: `this sign-in cannot be linked to a Timebox account: ask an admin of the tenant to add ${email} as a member first`,
        operator_disabled: 'this account is disabled',
        no_role: `${email} is in none of the identity provider groups that give a role in this tenant; ask an admin to add you to one`,
      };
      throw await refuse(s.tenantId, outcome.refused, messages[outcome.refused], ctx);
    }
    return outcome;
  }

  return { signIn, auditFailure, createScopedSession };
}

export type SsoSignIn = ReturnType<typeof createSsoSignIn>;
