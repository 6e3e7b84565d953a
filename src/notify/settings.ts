/**
 * A tenant's notification settings: its SMTP relay (password stored encrypted, never shown
 * again) and how long before expiry people are warned. Validated here, once, for the API.
 */
import type { z } from 'zod';
import { notificationSettingsInput, smtpInput } from '../api/endpoints/notifications.js';
import type { AuditInput, AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import type { SecretBox } from '../secrets/types.js';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { NotificationSettingsRow } from '../store/schema-notifications.js';
import { notifyDb, smtpPasswordContext, type NotifyDb } from './db.js';
import { isLoopbackHost } from './url-policy.js';
import { AppError, badRequest } from '../core/errors.js';
import type { OutboundPolicy } from '../net/outbound-policy.js';

export const DEFAULT_EXPIRY_WARNING_SECONDS = 900;

/** What the dispatcher needs to send one email; the password is decrypted only for that. */
export interface SmtpConfig {
  host: string;
  port: number;
  secure: boolean;
  requireTls: boolean;
  username: string | null;
  password: string | null;
  from: string;
}

/** The contract's settings (src/api) plus the server's rule on relays without TLS. */
export const smtpInputSchema = smtpInput.superRefine((s, ctx) => {
  const tls = (s.secure ?? s.port === 465) || s.requireTls !== false;
  // Without TLS, a man in the middle reads the AUTH exchange: only a relay on this host may do that.
  if (!tls && s.username && !isLoopbackHost(s.host)) {
    ctx.addIssue({
      code: 'custom',
      path: ['requireTls'],
      message: 'may be false with a username only for a relay on this host (localhost, 127.0.0.1, ::1): the password would cross the network unencrypted',
    });
  }
});
export const settingsInputSchema = notificationSettingsInput.extend({ smtp: smtpInputSchema.nullable() });
export type SettingsInput = z.infer<typeof settingsInputSchema>;

export interface NotificationSettingsView {
  smtp: { host: string; port: number; secure: boolean; requireTls: boolean; username: string | null; from: string; passwordSet: boolean } | null;
  expiryWarningSeconds: number;
  updatedAt: Date | null;
}

function toView(row: NotificationSettingsRow | undefined): NotificationSettingsView {
  if (!row) return { smtp: null, expiryWarningSeconds: DEFAULT_EXPIRY_WARNING_SECONDS, updatedAt: null };
  const smtp =
    row.smtp_host && row.smtp_port && row.from_address
      ? {
          host: row.smtp_host,
          port: row.smtp_port,
          secure: row.smtp_secure,
          requireTls: row.smtp_require_tls,
          username: row.smtp_username,
          from: row.from_address,
          passwordSet: row.smtp_password_enc !== null,
        }
      : null;
  return { smtp, expiryWarningSeconds: row.expiry_warning_seconds, updatedAt: row.updated_at };
}

const load = (db: NotifyDb, tenantId: string) =>
  db.selectFrom('tenant_notification_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();

export async function getNotificationSettings(db: Kysely<Database>, tenantId: string): Promise<NotificationSettingsView> {
  return toView(await load(notifyDb(db), tenantId));
}

/** Null when the tenant has no usable SMTP settings. */
export async function loadSmtpConfig(db: Kysely<Database>, secrets: SecretBox, tenantId: string): Promise<SmtpConfig | null> {
  const row = await load(notifyDb(db), tenantId);
  if (!row?.smtp_host || !row.smtp_port || !row.from_address) return null;
  return {
    host: row.smtp_host,
    port: row.smtp_port,
    secure: row.smtp_secure,
    requireTls: row.smtp_require_tls,
    username: row.smtp_username,
    password: row.smtp_password_enc ? secrets.decrypt(row.smtp_password_enc, smtpPasswordContext(tenantId)) : null,
    from: row.from_address,
  };
}

export interface SettingsDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  secrets: SecretBox;
  clock: Clock;
  outbound: OutboundPolicy;
}

/**
 * The relay fields that decide where, or over what, the stored SMTP password goes (and every
 * message, JIT passwords included): changing one requires the password again.
 */
export const SMTP_SECRET_BINDING = ['host', 'port', 'secure', 'requireTls'] as const;

type StoredSmtp = Pick<NotificationSettingsRow, 'smtp_host' | 'smtp_port' | 'smtp_secure' | 'smtp_require_tls'>;
function changedBindings(before: StoredSmtp, s: NonNullable<SettingsInput['smtp']>): string[] {
  const next = { host: s.host.toLowerCase(), port: s.port, secure: s.secure ?? s.port === 465, requireTls: s.requireTls !== false };
  const prev = { host: before.smtp_host?.toLowerCase(), port: before.smtp_port, secure: before.smtp_secure, requireTls: before.smtp_require_tls };
  return SMTP_SECRET_BINDING.filter((k) => next[k] !== prev[k]);
}

/** Replaces the settings; an omitted password keeps the stored one. Audited without secrets. */
export async function saveNotificationSettings(
  deps: SettingsDeps,
  actor: AuditInput['actor'],
  tenantId: string,
  input: SettingsInput,
): Promise<NotificationSettingsView> {
  const refuse = async (error: AppError, why: string, detail: Record<string, unknown>) => {
    // Outside the refused change's transaction: the attempt is recorded although nothing was saved.
    await deps.audit.append(deps.db, {
      tenantId,
      actor,
      action: 'notifications.settings_refused',
      subject: { type: 'tenant', id: tenantId },
      reason: why,
      after: detail,
    });
    return error;
  };
  if (input.smtp) {
    const problem = deps.outbound.literalProblem(input.smtp.host);
    if (problem) {
      throw await refuse(badRequest(`smtp.host must not be ${problem} (${input.smtp.host}) unless the server operator allows it`), 'address not allowed', {
        host: input.smtp.host,
      });
    }
  }
  const refused = await deps.db.transaction().execute(async (tx) => {
    const db = notifyDb(tx);
    const before = await db.selectFrom('tenant_notification_settings').selectAll().where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
    const s = input.smtp;
    if (s && s.password === undefined && s.username && before?.smtp_password_enc) {
      const changed = changedBindings(before, s);
      if (changed.length > 0) return { changed };
    }
    const passwordEnc =
      s === null || s.password === null || !s.username
        ? null
        : s.password === undefined
          ? (before?.smtp_password_enc ?? null)
          : deps.secrets.encrypt(s.password, smtpPasswordContext(tenantId));
    const values = {
      smtp_host: s?.host ?? null,
      smtp_port: s?.port ?? null,
      smtp_secure: s ? (s.secure ?? s.port === 465) : false,
      smtp_require_tls: s ? s.requireTls !== false : true,
      smtp_username: s?.username ?? null,
      smtp_password_enc: passwordEnc,
      from_address: s?.from ?? null,
      expiry_warning_seconds: input.expiryWarningSeconds ?? before?.expiry_warning_seconds ?? DEFAULT_EXPIRY_WARNING_SECONDS,
      updated_at: deps.clock.now(),
    };
    const row = await db
      .insertInto('tenant_notification_settings')
      .values({ tenant_id: tenantId, ...values })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet(values))
      .returningAll()
      .executeTakeFirstOrThrow();
    const after = toView(row);
    const forAudit = ({ updatedAt: _, ...rest }: NotificationSettingsView) => rest;
    await deps.audit.append(tx, {
      tenantId,
      actor,
      action: 'notifications.settings_updated',
      subject: { type: 'tenant', id: tenantId },
      before: forAudit(toView(before)),
      // Whether the password changed, never the password (nor its ciphertext).
      after: { ...forAudit(after), passwordChanged: typeof s?.password === 'string' },
    });
    return after;
  });
  if ('changed' in refused) {
    const fields = refused.changed.map((k) => `smtp.${k}`).join(', ');
    throw await refuse(
      badRequest(`smtp.password must be given again: changing ${fields} decides where the stored password (and every message) would be sent`),
      'secret required for a changed address',
      { changed: refused.changed },
    );
  }
  return refused;
}
