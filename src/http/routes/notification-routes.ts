/**
 * Notification settings of a tenant (SMTP relay, expiry warning), its webhooks, and the outbox
 * with each message's status. Admin-only (members.manage). The SMTP password and webhook
 * secrets go in and are never shown again (a secret once, at webhook creation).
 */
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { AuditLog } from '../../audit/types.js';
import type { Clock } from '../../core/clock.js';
import { AppError, notFound } from '../../core/errors.js';
import { listNotifications, notificationStatuses, type NotificationView } from '../../notify/outbox-query.js';
import { getNotificationSettings, saveNotificationSettings, settingsInputSchema, type NotificationSettingsView } from '../../notify/settings.js';
import { sendTestWebhook } from '../../notify/test-send.js';
import { createWebhook, deleteWebhook, listWebhooks, webhookFormats, webhookInputSchema, type WebhookView } from '../../notify/webhooks.js';
import type { OutboundPolicy } from '../../net/outbound-policy.js';
import type { SecretBox } from '../../secrets/types.js';
import type { Database } from '../../store/schema.js';
import { actorOf, principalOf } from '../auth-hook.js';
import { decodeCursor, pageQuerySchema, pageSchema, timeAndIdKeys, encodeCursor } from '../pagination.js';
import { iso, uuidParam } from '../schemas.js';
import type { RouteModule } from '../server.js';
import { requireTenant, tenantParamsSchema } from '../tenant-access.js';

export interface NotificationRouteDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  secrets: SecretBox;
  clock: Clock;
  /** The server's outbound address policy: webhook URLs and SMTP hosts are judged by it. */
  outbound: OutboundPolicy;
}

const settingsSchema = z.object({
  smtp: z
    .object({
      host: z.string(),
      port: z.number(),
      secure: z.boolean(),
      requireTls: z.boolean(),
      username: z.string().nullable(),
      from: z.string(),
      passwordSet: z.boolean(),
    })
    .nullable(),
  expiryWarningSeconds: z.number(),
  updatedAt: z.string().nullable(),
});
const settingsJson = (s: NotificationSettingsView) => ({ ...s, updatedAt: iso(s.updatedAt) });

const webhookSchema = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string().describe('origin and first path segment only: the rest may hold a token'),
  format: z.enum(webhookFormats),
  events: z.array(z.string()),
  enabled: z.boolean(),
  createdAt: z.string(),
});
const webhookJson = (w: WebhookView) => ({ ...w, createdAt: w.createdAt.toISOString() });

const notificationSchema = z.object({
  id: z.string(),
  channel: z.enum(['email', 'webhook']),
  recipient: z.string(),
  event: z.string(),
  subject: z.string(),
  status: z.enum(notificationStatuses),
  attempts: z.number(),
  lastError: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  createdAt: z.string(),
  sentAt: z.string().nullable(),
});
const notificationJson = (n: NotificationView) => ({
  ...n,
  nextAttemptAt: iso(n.nextAttemptAt),
  createdAt: n.createdAt.toISOString(),
  sentAt: iso(n.sentAt),
});

const webhookParams = tenantParamsSchema.extend({ id: uuidParam });

export const notificationRoutes =
  (deps: NotificationRouteDeps): RouteModule =>
  (app) => {
    app.get(
      '/api/v1/tenants/:tenant/settings/notifications',
      { schema: { tags: ['notifications'], summary: 'Email and expiry-warning settings (never the SMTP password)', params: tenantParamsSchema, response: { 200: settingsSchema } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        return settingsJson(await getNotificationSettings(deps.db, t.tenantId));
      },
    );

    app.put(
      '/api/v1/tenants/:tenant/settings/notifications',
      {
        schema: {
          tags: ['notifications'],
          summary: 'Replace the settings; smtp.password omitted keeps the stored one, null removes it',
          params: tenantParamsSchema,
          body: settingsInputSchema,
          response: { 200: settingsSchema },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        const saved = await saveNotificationSettings(deps, actorOf(principalOf(request)), t.tenantId, request.body);
        return settingsJson(saved);
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/webhooks',
      { schema: { tags: ['notifications'], params: tenantParamsSchema, response: { 200: z.object({ items: z.array(webhookSchema) }) } } },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        return { items: (await listWebhooks(deps.db, t.tenantId)).map(webhookJson) };
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/webhooks',
      {
        schema: {
          tags: ['notifications'],
          summary: 'Add a webhook; the signing secret is in this answer only',
          params: tenantParamsSchema,
          body: webhookInputSchema,
          response: { 201: z.object({ webhook: webhookSchema, secret: z.string() }) },
        },
      },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        const r = await createWebhook(deps, actorOf(principalOf(request)), t.tenantId, request.body);
        return reply.status(201).send({ webhook: webhookJson(r.webhook), secret: r.secret });
      },
    );

    app.delete(
      '/api/v1/tenants/:tenant/webhooks/:id',
      { schema: { tags: ['notifications'], params: webhookParams, response: { 204: z.null() } } },
      async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        if (!(await deleteWebhook(deps, actorOf(principalOf(request)), t.tenantId, request.params.id))) throw notFound(`webhook ${request.params.id}`);
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/api/v1/tenants/:tenant/webhooks/:id/test',
      {
        // Each call makes an outbound request: not a tool for hammering someone else's server.
        config: {
          rateLimit: {
            max: 10,
            timeWindow: 60_000,
            errorResponseBuilder: (_req, ctx) => new AppError('rate_limited', `too many test sends; try again in ${ctx.after}`),
          },
        },
        schema: {
          tags: ['notifications'],
          summary: 'Send a signed test event now and report what the receiver answered',
          params: webhookParams,
          response: { 200: z.object({ delivered: z.boolean(), status: z.number().nullable(), error: z.string().nullable() }) },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        const r = await sendTestWebhook(deps, { id: t.tenantId, slug: t.slug, name: t.name }, request.params.id);
        if (!r) throw notFound(`webhook ${request.params.id}`);
        return r;
      },
    );

    app.get(
      '/api/v1/tenants/:tenant/notifications',
      {
        schema: {
          tags: ['notifications'],
          summary: 'The outbox, newest first: status, attempts and the last delivery error',
          params: tenantParamsSchema,
          querystring: pageQuerySchema.extend({ status: z.enum(notificationStatuses).optional() }),
          response: { 200: pageSchema(notificationSchema) },
        },
      },
      async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        const keys = decodeCursor(request.query.cursor, timeAndIdKeys);
        const page = await listNotifications(deps.db, t.tenantId, {
          status: request.query.status,
          limit: request.query.limit,
          before: keys ? { createdAt: new Date(keys[0]), id: keys[1] } : undefined,
        });
        return {
          items: page.items.map(notificationJson),
          nextCursor: page.next ? encodeCursor([page.next.createdAt.toISOString(), page.next.id]) : null,
        };
      },
    );
  };
