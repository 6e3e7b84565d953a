/**
 * A secret in an outbox email (a password, a one-time link): the stored body holds only a
 * placeholder (`<name>`), the payload the secret encrypted with the SecretBox bound to the row
 * (`notification:<id>:<name>`), and the dispatcher renders it into the mail in memory at
 * sending time. Once the email is sent or given up the ciphertext is erased; errors are scrubbed
 * of the secret before they are logged or stored. Host credentials and invitation links use it.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { backoffDelay, type RetryPolicy } from '../core/retry.js';
import type { SecretBox } from '../secrets/types.js';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { sendEmail, type MailTransportFactory } from './deliver-email.js';
import { NO_SMTP_SETTINGS } from './notifier.js';
import { retryLater, settleWithPayload, type ClaimedNotification } from './outbox.js';
import { loadSmtpConfig } from './settings.js';

/** The name of one secret kind: its placeholder, payload field and encryption context follow from it. */
export type SecretSlot = 'password' | 'link';

/** Where the secret goes in the stored body. */
export const secretPlaceholder = (slot: SecretSlot) => `<${slot}>`;
const context = (notificationId: string, slot: SecretSlot) => `notification:${notificationId}:${slot}`;
const field = (slot: SecretSlot) => `${slot}Enc`;

/** The payload fields holding `secret` for the row `notificationId` (merge them into the payload). */
export function sealSecret(secrets: SecretBox, notificationId: string, slot: SecretSlot, secret: string): Record<string, string> {
  return { [field(slot)]: secrets.encrypt(secret, context(notificationId, slot)) };
}

/** Whether the payload still holds a sealed secret. */
export function hasSealedSecret(payload: unknown, slot: SecretSlot): boolean {
  const v = (payload as Record<string, unknown> | null)?.[field(slot)];
  return typeof v === 'string' && v.length > 0;
}

/** Never store or log a secret, even if a relay were to echo it back. */
export const scrubSecret = (text: string, secret: string) => [secret, Buffer.from(secret).toString('base64')].reduce((t, s) => t.split(s).join('***'), text);

export interface SealedEmailDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  clock: Clock;
  log: Logger;
  transport: MailTransportFactory;
  retry: RetryPolicy;
  random?: (() => number) | undefined;
}

export interface SealedEmailSpec {
  slot: SecretSlot;
  /** What stays in the payload once the secret is erased (enough to explain the row). */
  erased: Record<string, unknown>;
  /** For the log: which kind of email. */
  what: string;
  /** After the row is given up (the secret already erased): tell whoever is waiting. */
  onGiveUp?: (error: string) => Promise<void>;
}

/** Delivery of one claimed email with a sealed secret: `giveUp` erases it, `send` renders and sends it. */
export function sealedEmail(d: SealedEmailDeps, n: ClaimedNotification, spec: SealedEmailSpec) {
  const erased = JSON.stringify(spec.erased);
  const log = { notification: n.id, ...spec.erased };

  async function giveUp(error: string): Promise<void> {
    await settleWithPayload(d.db, n, { status: 'failed', error }, erased);
    d.log.warn({ ...log, error }, `${spec.what} given up`);
    await spec.onGiveUp?.(error);
  }

  async function send(): Promise<void> {
    const sealed = (n.payload as Record<string, unknown> | null)?.[field(spec.slot)];
    if (typeof sealed !== 'string' || !sealed) return giveUp(`the ${spec.slot} is no longer stored`);
    let secret: string;
    try {
      secret = d.secrets.decrypt(sealed, context(n.id, spec.slot));
    } catch {
      return giveUp(`the stored ${spec.slot} cannot be decrypted`);
    }
    let smtp;
    try {
      smtp = await loadSmtpConfig(d.db, d.secrets, n.tenantId);
    } catch {
      return giveUp('the stored SMTP password cannot be decrypted; save the SMTP settings again');
    }
    if (!smtp) return giveUp(NO_SMTP_SETTINGS);
    const body = n.body.split(secretPlaceholder(spec.slot)).join(secret);
    const result = await sendEmail(smtp, { to: n.recipient, subject: n.subject, body, id: n.id }, d.transport);
    if (result.ok) {
      await settleWithPayload(d.db, n, { status: 'sent', at: d.clock.now() }, erased);
      d.log.info(log, `${spec.what} sent`);
      return;
    }
    const error = scrubSecret(result.error, secret);
    if (result.permanent || n.attempts >= d.retry.maxAttempts) {
      return giveUp(`${error}${result.permanent ? '' : ` (gave up after ${n.attempts} attempts)`}`);
    }
    d.log.warn({ ...log, attempts: n.attempts, error }, `${spec.what} not delivered; retrying`);
    await retryLater(d.db, n, new Date(d.clock.now().getTime() + backoffDelay(d.retry, n.attempts, d.random)), error);
  }

  return { giveUp, send };
}
