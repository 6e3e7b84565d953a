/**
 * Notification settings of a tenant (SMTP relay, expiry warning), its webhooks, and the outbox
 * with each message's status. Admin-only (members.manage). The SMTP password and webhook
 * secrets go in and are never shown again (a secret once, at webhook creation).
 */
import { routeOf } from '../route-of.js';
import { endpoints } from '../../api/endpoints.js';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../../audit/types.js';
import type { Clock } from '../../core/clock.js';
import { AppError, notFound } from '../../core/errors.js';
import { listNotifications, type NotificationView } from '../../notify/outbox-query.js';
import { getNotificationSettings, saveNotificationSettings, settingsInputSchema, type NotificationSettingsView } from '../../notify/settings.js';
import { sendTestWebhook } from '../../notify/test-send.js';
import { createWebhook, deleteWebhook, listWebhooks, webhookInputSchema, type WebhookView } from '../../notify/webhooks.js';
import type { OutboundPolicy } from '../../net/outbound-policy.js';
import type { SecretBox } from '../../secrets/types.js';
import type { Database } from '../../store/schema.js';
import { actorOf, principalOf } from '../auth-hook.js';
import { decodeCursor, timeAndIdKeys, encodeCursor } from '../pagination.js';
import { iso } from '../schemas.js';
import type { RouteModule } from '../server.js';
import { requireTenant } from '../tenant-access.js';

export interface NotificationRouteDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  secrets: SecretBox;
  clock: Clock;
  /** The server's outbound address policy: webhook URLs and SMTP hosts are judged by it. */
  outbound: OutboundPolicy;
}

const settingsJson = (s: NotificationSettingsView) => ({ ...s, updatedAt: iso(s.updatedAt) });

const webhookJson = (w: WebhookView) => ({ ...w, createdAt: w.createdAt.toISOString() });

const notificationJson = (n: NotificationView) => ({
  ...n,
  nextAttemptAt: iso(n.nextAttemptAt),
  createdAt: n.createdAt.toISOString(),
  sentAt: iso(n.sentAt),
});

export const notificationRoutes =
  (deps: NotificationRouteDeps): RouteModule =>
  (app) => {
    app.route({
      ...routeOf(endpoints.getNotificationSettings),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        return settingsJson(await getNotificationSettings(deps.db, t.tenantId));
      },
    });

    app.route({
      ...routeOf(endpoints.setNotificationSettings, { body: settingsInputSchema }),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        const saved = await saveNotificationSettings(deps, actorOf(principalOf(request)), t.tenantId, request.body);
        return settingsJson(saved);
      },
    });

    app.route({
      ...routeOf(endpoints.listWebhooks),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        return { items: (await listWebhooks(deps.db, t.tenantId)).map(webhookJson) };
      },
    });

    app.route({
      ...routeOf(endpoints.createWebhook, { body: webhookInputSchema }),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        const r = await createWebhook(deps, actorOf(principalOf(request)), t.tenantId, request.body);
        return reply.status(201).send({ webhook: webhookJson(r.webhook), secret: r.secret });
      },
    });

    app.route({
      ...routeOf(endpoints.deleteWebhook),
      handler: async (request, reply) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        if (!(await deleteWebhook(deps, actorOf(principalOf(request)), t.tenantId, request.params.id))) throw notFound(`webhook ${request.params.id}`);
        return reply.status(204).send(null);
      },
    });

    app.route({
      // Each call makes an outbound request: not a tool for hammering someone else's server.
      ...routeOf(endpoints.testWebhook, {
        config: {
          rateLimit: {
            max: 10,
            timeWindow: 60_000,
            errorResponseBuilder: (_req, ctx) => new AppError('rate_limited', `too many test sends; try again in ${ctx.after}`),
          },
        },
      }),
      handler: async (request) => {
        const t = await requireTenant(request, request.params.tenant, 'members.manage');
        const r = await sendTestWebhook(deps, { id: t.tenantId, slug: t.slug, name: t.name }, request.params.id);
        if (!r) throw notFound(`webhook ${request.params.id}`);
        return r;
      },
    });

    app.route({
      ...routeOf(endpoints.listNotifications),
      handler: async (request) => {
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
    });
  };
