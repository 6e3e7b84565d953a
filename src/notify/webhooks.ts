/**
 * Webhooks of a tenant: where chat messages or signed JSON go. The signing secret is generated
 * here (or given), stored encrypted and shown once, at creation; URLs are shown redacted since
 * many chat webhooks carry their own token in the path.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { AuditInput, AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { badRequest, conflict } from '../core/errors.js';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import type { WebhookFormat, WebhookRow } from '../store/schema-notifications.js';
import { notifyDb, webhookSecretContext } from './db.js';
import { redactUrl, webhookUrlProblem, webhookUrlSyntaxProblem } from './url-policy.js';

import { webhookFormats, webhookInput } from '../api/endpoints/notifications.js';

export { webhookFormats };
webhookFormats satisfies readonly WebhookFormat[];

/** The contract's webhook (src/api) plus the server's rule on the URL's form. */
export const webhookInputSchema = webhookInput.extend({
  url: webhookInput.shape.url.superRefine((url, ctx) => {
    const problem = webhookUrlSyntaxProblem(url);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
});
export type WebhookInput = z.infer<typeof webhookInputSchema>;

export interface WebhookView {
  id: string;
  name: string;
  /** Origin and first path segment only. */
  url: string;
  format: WebhookFormat;
  events: string[];
  enabled: boolean;
  createdAt: Date;
}

export const toWebhookView = (w: WebhookRow): WebhookView => ({
  id: w.id,
  name: w.name,
  url: redactUrl(w.url),
  format: w.format,
  events: w.events,
  enabled: w.enabled,
  createdAt: w.created_at,
});

export interface WebhookDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  secrets: SecretBox;
  clock: Clock;
  outbound: OutboundPolicy;
}

type Actor = AuditInput['actor'];

export async function createWebhook(
  deps: WebhookDeps,
  actor: Actor,
  tenantId: string,
  input: WebhookInput,
): Promise<{ webhook: WebhookView; secret: string }> {
  // Where it leads, by the server's outbound policy (a name is judged again when resolved, at delivery).
  const where = webhookUrlProblem(input.url, deps.outbound);
  if (where) {
    // Recorded although nothing is saved: an admin probing internal addresses is worth knowing of.
    // Redacted as everywhere: the rest of a webhook URL may hold a token.
    await deps.audit.append(deps.db, {
      tenantId,
      actor,
      action: 'webhook.refused',
      subject: { type: 'tenant', id: tenantId },
      reason: 'address not allowed',
      after: { name: input.name, url: redactUrl(input.url) },
    });
    throw badRequest(`url ${where}`);
  }
  const id = randomUUID();
  const secret = input.secret ?? `whsec_${randomBytes(32).toString('base64url')}`;
  return deps.db.transaction().execute(async (tx) => {
    const clash = await notifyDb(tx).selectFrom('webhooks').select('id').where('tenant_id', '=', tenantId).where('name', '=', input.name).executeTakeFirst();
    if (clash) throw conflict(`a webhook named ${input.name} already exists in this tenant`);
    const row = await notifyDb(tx)
      .insertInto('webhooks')
      .values({
        id,
        tenant_id: tenantId,
        name: input.name,
        url: input.url,
        format: input.format,
        secret_enc: deps.secrets.encrypt(secret, webhookSecretContext(id)),
        events: [...new Set(input.events)],
        enabled: input.enabled ?? true,
        created_at: deps.clock.now(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const webhook = toWebhookView(row);
    const { createdAt: _, ...after } = webhook;
    await deps.audit.append(tx, { tenantId, actor, action: 'webhook.created', subject: { type: 'webhook', id }, after });
    return { webhook, secret };
  });
}

export async function listWebhooks(db: Kysely<Database>, tenantId: string): Promise<WebhookView[]> {
  const rows = await notifyDb(db).selectFrom('webhooks').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
  return rows.map(toWebhookView);
}

/** False when the tenant has no such webhook. Its undelivered messages are marked failed, visibly. */
export async function deleteWebhook(deps: WebhookDeps, actor: Actor, tenantId: string, id: string): Promise<boolean> {
  return deps.db.transaction().execute(async (tx) => {
    const db = notifyDb(tx);
    const row = await db.deleteFrom('webhooks').where('tenant_id', '=', tenantId).where('id', '=', id).returningAll().executeTakeFirst();
    if (!row) return false;
    await db
      .updateTable('notifications')
      .set({ status: 'failed', last_error: 'the webhook was deleted before delivery', locked_by: null, locked_until: null })
      .where('tenant_id', '=', tenantId)
      .where('channel', '=', 'webhook')
      .where('recipient', '=', id)
      .where('status', '=', 'pending')
      .execute();
    const { createdAt: _, ...before } = toWebhookView(row);
    await deps.audit.append(tx, { tenantId, actor, action: 'webhook.deleted', subject: { type: 'webhook', id }, before });
    return true;
  });
}

export interface DeliverableWebhook {
  id: string;
  tenantId: string;
  url: string;
  format: WebhookFormat;
  enabled: boolean;
  secret: string;
}

/** The webhook with its secret decrypted, for one delivery; null when it no longer exists. */
export async function loadWebhook(db: Kysely<Database>, secrets: SecretBox, tenantId: string, id: string): Promise<DeliverableWebhook | null> {
  const row = await notifyDb(db).selectFrom('webhooks').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    url: row.url,
    format: row.format,
    enabled: row.enabled,
    secret: secrets.decrypt(row.secret_enc, webhookSecretContext(row.id)),
  };
}
