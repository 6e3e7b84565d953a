/**
 * The database as the notification code sees it. `Database` includes `NotificationTables`, so
 * this is the same type; the alias keeps the notification code's signatures short.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

export type NotifyDatabase = Database;
export type NotifyDb = Kysely<NotifyDatabase>;

export const notifyDb = (db: Kysely<Database> | Transaction<Database>): NotifyDb => db;

/** SecretBox contexts: bound into the ciphertext, so a value copied to another row will not decrypt. */
export const smtpPasswordContext = (tenantId: string) => `tenant:${tenantId}:smtp`;
export const webhookSecretContext = (webhookId: string) => `webhook:${webhookId}`;

/** Errors are stored and shown to admins: bounded, one line. */
export function errorText(err: unknown, max = 500): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s+/g, ' ').trim().slice(0, max) || 'unknown error';
}
