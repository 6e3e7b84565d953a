/**
 * Invitations: the only way into a tenant for someone who is not yet in it, and the only way
 * back in after a platform administrator reset someone's sign-in. A one-time link (256 random
 * bits, 72 hours, single use, stored as a SHA-256 hash) is e-mailed when the tenant has SMTP
 * settings, otherwise handed once to the inviting admin to pass on.
 *
 * Nobody sets anyone else's password. A new person chooses their own on the accept page; a
 * person who already has an account must accept while signed in as that account (consent), so
 * holding the link is never enough to enter someone's existing account. The inviting admin's
 * answer is the same whether the email has an account or not.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { AppError, badRequest, conflict, forbidden, notFound } from '../core/errors.js';
import type { Role } from '../core/roles.js';
import { generateToken, sha256Hex } from '../secrets/password.js';
import type { Database } from '../store/schema.js';
import type { InvitationRow } from '../store/schema-identity.js';
import { notifyDb } from '../notify/db.js';
import { removeAllOperatorKeysIn } from '../gateway/operator-keys.js';
import { endPasswordSessions } from './oidc/require-sso.js';
import { INVITATION_LINK, queueInvitationEmail } from '../notify/invitation-email.js';
import type { SecretBox } from '../secrets/types.js';
import { inTransaction, normalizeEmail, parseRoles, type Actor, type Operators } from './operators.js';
import { hashPassword } from './password-hash.js';
import { passwordProblem } from './password-policy.js';

export const INVITATION_TTL_MS = 72 * 60 * 60 * 1000;
export const INVITATION_PREFIX = 'tbi_';
const MAX_TOKEN_LENGTH = 128;

type Db = Kysely<Database>;

export interface InvitationView {
  id: string;
  email: string;
  roles: Role[];
  expiresAt: Date;
}

/** What the inviting admin gets back: the same shape whether the email has an account or not. */
export interface InvitationIssued {
  invitation: InvitationView;
  /** 'email': sent to the invitee; 'link': no SMTP settings, pass `link` on (shown only here). */
  delivery: 'email' | 'link';
  link: string | null;
}

/** What the accept page may show to whoever holds the link: nothing about existing accounts. */
export interface InvitationPreview {
  email: string;
  kind: 'member' | 'reset';
  tenant: { slug: string; name: string } | null;
  roles: Role[];
  expiresAt: Date;
}

export interface InvitationsDeps {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  operators: Operators;
  /** Seals the link in a queued invitation email (it is a credential). */
  secrets: SecretBox;
}

const invitePath = (token: string) => `/invite/${token}`;

export function createInvitations(deps: InvitationsDeps) {
  const { db, audit, clock, operators, secrets } = deps;

  /**
   * Open invitations of this email to this tenant end when a new one is issued: withdrawn, so the
   * same rule as a withdrawal applies (`mayWithdraw`: an owner's invitation is not an admin's to
   * replace) and the audit says which invitation ended and why.
   */
  async function supersede(tx: Transaction<Database>, input: { email: string; tenantId: string | null; supersededBy: string; actor: Actor }, now: Date, mayWithdraw: (roles: Role[]) => void) {
    let q = tx.selectFrom('invitations').select(['id', 'roles', 'expires_at']).where('email', '=', input.email).where('used_at', 'is', null).where('expires_at', '>', now);
    q = input.tenantId ? q.where('tenant_id', '=', input.tenantId) : q.where('kind', '=', 'reset');
    const open = await q.forUpdate().execute();
    for (const row of open) mayWithdraw(row.roles as Role[]);
    if (open.length === 0) return;
    await tx.updateTable('invitations').set({ expires_at: now }).where('id', 'in', open.map((r) => r.id)).execute();
    for (const row of open) {
      await audit.append(tx, {
        tenantId: input.tenantId,
        actor: input.actor,
        action: 'invitation.withdrawn',
        subject: { type: 'invitation', id: row.id },
        reason: 'superseded by a new invitation to the same address',
        before: { email: input.email, roles: row.roles, expiresAt: row.expires_at },
        after: { supersededBy: input.supersededBy },
      });
    }
  }

  async function insert(
    tx: Transaction<Database>,
    input: { email: string; kind: 'member' | 'reset'; tenantId: string | null; roles: Role[]; displayName: string | null; invitedBy: string | null },
    actor: Actor,
    mayWithdraw: (roles: Role[]) => void = () => {},
  ): Promise<{ row: InvitationRow; token: string }> {
    const now = clock.now();
    const id = randomUUID();
    await supersede(tx, { email: input.email, tenantId: input.tenantId, supersededBy: id, actor }, now, mayWithdraw);
    const token = INVITATION_PREFIX + generateToken(32);
    const row: InvitationRow = {
      id,
      token_hash: sha256Hex(token),
      email: input.email,
      kind: input.kind,
      tenant_id: input.tenantId,
      roles: input.roles,
      display_name: input.displayName,
      invited_by: input.invitedBy,
      created_at: now,
      expires_at: new Date(now.getTime() + INVITATION_TTL_MS),
      used_at: null,
      used_by: null,
    };
    await tx.insertInto('invitations').values(row).execute();
    return { row, token };
  }

  /**
   * Invites `email` to the tenant with `roles`. Both branches (account or not) do the same work
   * and answer the same; whether an account exists only matters when the link is used.
   */
  async function inviteMember(
    input: { tenantId: string; email: string; roles: readonly string[]; displayName?: string | undefined; origin: string },
    actor: Actor,
    mayWithdraw: (roles: Role[]) => void,
  ): Promise<InvitationIssued> {
    const email = normalizeEmail(input.email);
    const roles = parseRoles(input.roles);
    return inTransaction(db, async (tx) => {
      const { row, token } = await insert(tx, { email, kind: 'member', tenantId: input.tenantId, roles, displayName: input.displayName?.trim() || null, invitedBy: actor.id }, actor, mayWithdraw);
      const tenant = await tx.selectFrom('tenants').select(['name']).where('id', '=', input.tenantId).executeTakeFirstOrThrow();
      const link = `${input.origin}${invitePath(token)}`;
      const mailed = await queueEmail(tx, row.id, input.tenantId, email, link, `You are invited to ${tenant.name} on Timebox`, [
        `You have been invited to the tenant "${tenant.name}" on Timebox with the role(s): ${roles.join(', ')}.`,
        '',
        `Open this link within 72 hours to accept: ${INVITATION_LINK}`,
        'If you have no Timebox account yet, you choose your own password there; if you have one, sign in first.',
        'The link works once. If you did not expect this invitation, ignore this message.',
      ]);
      await audit.append(tx, {
        tenantId: input.tenantId,
        actor,
        action: 'invitation.created',
        subject: { type: 'invitation', id: row.id },
        after: { email, roles, expiresAt: row.expires_at, delivery: mailed ? 'email' : 'link' },
      });
      return {
        invitation: { id: row.id, email, roles, expiresAt: row.expires_at },
        delivery: mailed ? 'email' : 'link',
        link: mailed ? null : link,
      };
    });
  }

  /**
   * A platform administrator clears someone's sign-in (password, sessions, API tokens, the SSH
   * keys registered for the gateway) and issues a reset invitation: only the holder of the link
   * chooses the next password.
   */
  async function resetSignIn(operatorId: string, actor: Actor, origin: string, revokeAll: (tx: Transaction<Database>) => Promise<number>) {
    return inTransaction(db, async (tx) => {
      const op = await tx.selectFrom('operators').select(['id', 'email']).where('id', '=', operatorId).forUpdate().executeTakeFirst();
      if (!op) throw notFound('operator');
      // sessions_ended_at: SSH connections to the gateway opened before now close too.
      await tx.updateTable('operators').set({ password_hash: null, password_change_required: false, sessions_ended_at: clock.now() }).where('id', '=', op.id).execute();
      const ended = await revokeAll(tx);
      // Whoever held the account may have registered a key of their own to keep the gateway open.
      await removeAllOperatorKeysIn(tx, audit, op.id, { tenantId: null, actor, reason: 'sign-in reset' });
      const { row, token } = await insert(tx, { email: op.email, kind: 'reset', tenantId: null, roles: [], displayName: null, invitedBy: actor.id }, actor);
      await audit.append(tx, {
        tenantId: null,
        actor,
        action: 'operator.sign_in_reset',
        subject: { type: 'operator', id: op.id },
        after: { invitationId: row.id, expiresAt: row.expires_at, sessionsAndTokensEnded: ended },
      });
      return { invitation: { id: row.id, email: op.email, roles: [] as Role[], expiresAt: row.expires_at }, delivery: 'link' as const, link: `${origin}${invitePath(token)}` };
    });
  }

  /** The tenant's SMTP settings decide: with them the link goes by email only, sealed until sent. */
  async function queueEmail(tx: Transaction<Database>, invitationId: string, tenantId: string, to: string, link: string, subject: string, lines: string[]): Promise<boolean> {
    const smtp = await notifyDb(tx).selectFrom('tenant_notification_settings').select(['smtp_host', 'from_address']).where('tenant_id', '=', tenantId).executeTakeFirst();
    if (!smtp?.smtp_host || !smtp.from_address) return false;
    await queueInvitationEmail(tx, secrets, { tenantId, invitationId, to, subject, lines, link, now: clock.now() });
    return true;
  }

  /** The open invitation behind a token, or why there is none (each case says so plainly). */
  async function usable(tx: Kysely<Database>, token: string, lock: boolean): Promise<InvitationRow> {
    if (!token.startsWith(INVITATION_PREFIX) || token.length > MAX_TOKEN_LENGTH) throw notFound('invitation');
    let q = tx.selectFrom('invitations').selectAll().where('token_hash', '=', sha256Hex(token));
    if (lock) q = q.forUpdate();
    const row = await q.executeTakeFirst();
    if (!row) throw notFound('invitation');
    if (row.used_at) throw conflict('this invitation link was already used; ask for a new one');
    // A withdrawn invitation ends by its expiry set to the moment it was withdrawn.
    if (row.expires_at <= clock.now()) throw conflict('this invitation link has expired or was withdrawn; ask for a new one');
    return row;
  }

  async function preview(token: string): Promise<InvitationPreview> {
    const row = await usable(db, token, false);
    const tenant = row.tenant_id ? await db.selectFrom('tenants').select(['slug', 'name']).where('id', '=', row.tenant_id).executeTakeFirst() : undefined;
    return { email: row.email, kind: row.kind, tenant: tenant ?? null, roles: row.roles as Role[], expiresAt: row.expires_at };
  }

  async function join(tx: Transaction<Database>, row: InvitationRow, operatorId: string, actor: Actor): Promise<void> {
    if (!row.tenant_id) return;
    const existing = await tx.selectFrom('memberships').select('roles').where('tenant_id', '=', row.tenant_id).where('operator_id', '=', operatorId).executeTakeFirst();
    // Already a member: keep what they have (an admin changes roles on the members page).
    if (!existing) await operators.setMembership(row.tenant_id, operatorId, row.roles, actor, tx);
  }

  async function markUsed(tx: Transaction<Database>, row: InvitationRow, operatorId: string, actor: Actor, extra: Record<string, unknown> = {}): Promise<void> {
    await tx.updateTable('invitations').set({ used_at: clock.now(), used_by: operatorId }).where('id', '=', row.id).execute();
    await audit.append(tx, {
      tenantId: row.tenant_id,
      actor,
      action: 'invitation.accepted',
      subject: { type: 'invitation', id: row.id },
      after: { operatorId, kind: row.kind, roles: row.roles, ...extra },
    });
  }

  /**
   * Joining a tenant that requires single sign-on brings its rule to this person, as turning the
   * rule on does for members (endPasswordSessions): their password sessions end, or the one that
   * accepted would reach the tenant without its provider. Refusing the acceptance instead would
   * leave no way in: the provider links an existing account only once it is a member. Sessions
   * begun through a provider stay (each is confined to its tenant), and so do those of a
   * break-glass owner of the tenant with an authenticator app, who may sign in with a password.
   */
  async function endPasswordSessionsIfSsoRequired(tx: Transaction<Database>, tenantId: string, operatorId: string): Promise<number> {
    const sso = await tx.selectFrom('tenant_sso').select(['require_sso', 'break_glass_emails']).where('tenant_id', '=', tenantId).executeTakeFirst();
    if (!sso?.require_sso) return 0;
    return endPasswordSessions(tx, tenantId, sso.break_glass_emails, clock.now(), operatorId);
  }

  /**
   * Accepting with a new password: a new person (no account yet) or a reset. An existing
   * account never gets its password from a link of a tenant invitation: it must sign in and
   * accept (acceptSignedIn). In a tenant that requires single sign-on the new account has no
   * session to end, and password sign-in refuses its members (assertPasswordSignInAllowed): the
   * password gives nothing there, and the person goes on through the tenant's provider.
   */
  async function acceptWithPassword(input: { token: string; password: string; displayName?: string | undefined }) {
    const first = await usable(db, input.token, false);
    const problem = await passwordProblem(input.password, first.email, input.displayName);
    if (problem) throw badRequest(problem);
    // Hashed before the transaction (PGlite has a single connection).
    const hash = await hashPassword(input.password);
    return inTransaction(db, async (tx) => {
      const row = await usable(tx, input.token, true);
      const account = await tx.selectFrom('operators').select(['id', 'disabled', 'password_hash']).where('email', '=', row.email).executeTakeFirst();
      if (row.kind === 'reset') {
        if (!account) throw notFound('invitation');
        if (account.disabled) throw forbidden('this account is disabled; ask a platform administrator');
        await tx.updateTable('operators').set({ password_hash: hash, password_change_required: false }).where('id', '=', account.id).execute();
        const actor = { type: 'operator' as const, id: account.id };
        await audit.append(tx, { tenantId: null, actor, action: 'operator.password_set', subject: { type: 'operator', id: account.id }, after: { via: 'reset invitation' } });
        await markUsed(tx, row, account.id, actor);
        return { email: row.email, tenant: null };
      }
      if (account) {
        throw new AppError('conflict', `this address already has a Timebox account: sign in as ${row.email}, then open the link again to accept`, { signInRequired: true });
      }
      const displayName = input.displayName?.trim() || row.display_name || row.email.split('@')[0] || row.email;
      const id = randomUUID();
      await tx
        .insertInto('operators')
        .values({ id, email: row.email, display_name: displayName, password_hash: hash, password_change_required: false, platform_admin: false, disabled: false, created_at: clock.now() })
        .execute();
      const actor = { type: 'operator' as const, id };
      await audit.append(tx, {
        tenantId: row.tenant_id,
        actor,
        action: 'operator.created',
        subject: { type: 'operator', id },
        after: { email: row.email, displayName, platformAdmin: false, passwordSet: true, invitationId: row.id },
      });
      await join(tx, row, id, actor);
      await markUsed(tx, row, id, actor);
      return { email: row.email, tenant: await tenantOf(tx, row.tenant_id) };
    });
  }

  /**
   * The signed-in person accepts: consent to join the tenant, only as the invited address. In a
   * tenant that requires single sign-on, their password sessions then end (see above): they go on
   * through the tenant's provider.
   */
  /**
   * `me.ssoTenantId`: the tenant a single sign-on session is confined to. Its identity provider
   * vouches for the person there only, so it cannot take them into another tenant: else one
   * tenant's provider could sign in as any address and accept the invitations other tenants send it.
   */
  async function acceptSignedIn(token: string, me: { operatorId: string; email: string; ssoTenantId: string | null }) {
    return inTransaction(db, async (tx) => {
      const row = await usable(tx, token, true);
      if (row.kind !== 'member') throw badRequest('this link resets a sign-in: open it signed out and choose a new password');
      if (normalizeEmail(me.email) !== row.email) throw forbidden(`this invitation is for another address; sign in as ${row.email} to accept it`);
      if (me.ssoTenantId !== null && row.tenant_id !== me.ssoTenantId) {
        throw forbidden(
          'this session signed in through single sign-on reaches one tenant only, and the invitation is to another; accept it from a session signed in with your password (no password yet? a platform administrator can give you a link to choose one)',
        );
      }
      const actor = { type: 'operator' as const, id: me.operatorId };
      await join(tx, row, me.operatorId, actor);
      const endedPasswordSessions = row.tenant_id ? await endPasswordSessionsIfSsoRequired(tx, row.tenant_id, me.operatorId) : 0;
      await markUsed(tx, row, me.operatorId, actor, endedPasswordSessions ? { endedPasswordSessions } : {});
      return { email: row.email, tenant: await tenantOf(tx, row.tenant_id) };
    });
  }

  /** The tenant's invitations that can still be accepted, newest first (bounded: one per email). */
  async function listPending(tenantId: string): Promise<Array<InvitationView & { invitedBy: string | null; createdAt: Date }>> {
    const rows = await db
      .selectFrom('invitations')
      .select(['id', 'email', 'roles', 'expires_at', 'invited_by', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('kind', '=', 'member')
      .where('used_at', 'is', null)
      .where('expires_at', '>', clock.now())
      .orderBy('created_at', 'desc')
      .limit(1000)
      .execute();
    return rows.map((r) => ({ id: r.id, email: r.email, roles: r.roles as Role[], expiresAt: r.expires_at, invitedBy: r.invited_by, createdAt: r.created_at }));
  }

  /**
   * Withdraws a pending invitation of this tenant: its link stops working at once (a link sent to
   * the wrong address, or to someone who should no longer join). `mayWithdraw` sees its roles
   * first (an owner's invitation is an owner's to withdraw).
   */
  async function withdraw(tenantId: string, invitationId: string, actor: Actor, mayWithdraw: (roles: Role[]) => void): Promise<InvitationView> {
    return inTransaction(db, async (tx) => {
      const now = clock.now();
      const row = await tx
        .selectFrom('invitations')
        .select(['id', 'email', 'roles', 'expires_at'])
        .where('id', '=', invitationId)
        .where('tenant_id', '=', tenantId)
        .where('kind', '=', 'member')
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .forUpdate()
        .executeTakeFirst();
      if (!row) throw notFound(`pending invitation ${invitationId}`);
      mayWithdraw(row.roles as Role[]);
      await tx.updateTable('invitations').set({ expires_at: now }).where('id', '=', row.id).execute();
      await audit.append(tx, { tenantId, actor, action: 'invitation.withdrawn', subject: { type: 'invitation', id: row.id }, before: { email: row.email, roles: row.roles, expiresAt: row.expires_at } });
      return { id: row.id, email: row.email, roles: row.roles as Role[], expiresAt: row.expires_at };
    });
  }

  async function tenantOf(tx: Transaction<Database>, tenantId: string | null) {
    if (!tenantId) return null;
    return (await tx.selectFrom('tenants').select(['slug', 'name']).where('id', '=', tenantId).executeTakeFirst()) ?? null;
  }

  return { inviteMember, resetSignIn, preview, acceptWithPassword, acceptSignedIn, listPending, withdraw };
}

export type Invitations = ReturnType<typeof createInvitations>;
