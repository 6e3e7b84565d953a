import { z } from 'zod';
import { endpoint } from '../endpoint.js';
import { notificationEventTypes } from '../../notify/events.js';
import { objectName, uuidParam, tenantParamsSchema, pageQuerySchema, pageSchema } from '../fields.js';

export const webhookFormats = ['slack', 'teams', 'generic'] as const;
export const notificationStatuses = ['pending', 'sent', 'failed'] as const;

const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);
const hostPattern = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9a-fA-F:.]+$/;

/** The SMTP relay as an admin sends it. The server adds its rule on plain-text relays (src/notify/settings.ts). */
export const smtpInput = z
  .strictObject({
    host: z.string().min(1).max(253).regex(hostPattern, { error: 'must be a host name or IP address without scheme or port, such as smtp.example.com' }),
    port: z
      .number({ error: 'must be a port number between 1 and 65535' })
      .int({ error: 'must be a port number between 1 and 65535' })
      .min(1, { error: 'must be a port number between 1 and 65535' })
      .max(65535, { error: 'must be a port number between 1 and 65535' }),
    /** Implicit TLS (port 465). Default: true on 465, otherwise STARTTLS. */
    secure: z.boolean().optional(),
    /** Default true. False only for a relay without TLS (a local one, or one that takes no password). */
    requireTls: z.boolean().optional(),
    username: z.string().min(1).max(256).refine(noControl, { error: 'must not contain control characters' }).nullish(),
    /** Omitted: keep the stored password; null: remove it. */
    password: z.string().min(1).max(1024).refine(noControl, { error: 'must not contain control characters' }).nullish(),
    from: z.email({ error: 'must be an email address such as timebox@example.com' }).max(254),
  })
  .superRefine((s, ctx) => {
    if (s.password && !s.username) ctx.addIssue({ code: 'custom', path: ['username'], message: 'is required when a password is given' });
  });
/** The shortest lead of an expiry warning a tenant may set. */
export const MIN_EXPIRY_WARNING_SECONDS = 60;
export const notificationSettingsInput = z.strictObject({
  smtp: smtpInput.nullable(),
  expiryWarningSeconds: z
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(MIN_EXPIRY_WARNING_SECONDS, { error: `must be at least ${MIN_EXPIRY_WARNING_SECONDS} seconds` })
    .max(7 * 86400, { error: 'must be at most 7 days' })
    .optional(),
});
/** A webhook as an admin sends it. The server adds its rule on the URL's form (src/notify/webhooks.ts). */
export const webhookInput = z.strictObject({
  name: objectName,
  url: z.string().max(2048, { error: 'must be at most 2048 characters' }),
  format: z.enum(webhookFormats, { error: `must be one of ${webhookFormats.join(', ')}` }),
  events: z.array(z.enum(notificationEventTypes, { error: `must be one of ${notificationEventTypes.join(', ')}` })).min(1).max(notificationEventTypes.length * 2),
  enabled: z.boolean().optional(),
  /** Omitted: one is generated. Given: for a receiver that already has one configured. */
  secret: z.string().min(24, { error: 'must be at least 24 characters' }).max(256).optional(),
});

export const settingsSchema = z.object({
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
export const webhookSchema = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string().describe('origin and first path segment only: the rest may hold a token'),
  format: z.enum(webhookFormats),
  events: z.array(z.string()),
  enabled: z.boolean(),
  createdAt: z.string(),
});
export const notificationSchema = z.object({
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
export const webhookParams = tenantParamsSchema.extend({ id: uuidParam });

export const notificationEndpoints = {
  getNotificationSettings: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/settings/notifications',
    auth: 'session',
    tags: ['notifications'],
    summary: 'Email and expiry-warning settings (never the SMTP password)',
    params: tenantParamsSchema,
    response: { 200: settingsSchema },
  }),
  setNotificationSettings: endpoint({
    method: 'PUT',
    path: '/api/v1/tenants/:tenant/settings/notifications',
    auth: 'session',
    tags: ['notifications'],
    summary: 'Replace the settings; smtp.password omitted keeps the stored one, null removes it',
    params: tenantParamsSchema,
    body: notificationSettingsInput,
    response: { 200: settingsSchema },
  }),
  listWebhooks: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/webhooks',
    auth: 'session',
    tags: ['notifications'],
    params: tenantParamsSchema,
    response: { 200: z.object({ items: z.array(webhookSchema) }) },
  }),
  createWebhook: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/webhooks',
    auth: 'session',
    tags: ['notifications'],
    summary: 'Add a webhook; the signing secret is in this answer only',
    params: tenantParamsSchema,
    body: webhookInput,
    response: { 201: z.object({ webhook: webhookSchema, secret: z.string() }) },
  }),
  deleteWebhook: endpoint({
    method: 'DELETE',
    path: '/api/v1/tenants/:tenant/webhooks/:id',
    auth: 'session',
    tags: ['notifications'],
    params: webhookParams,
    response: { 204: z.null() },
  }),
  testWebhook: endpoint({
    method: 'POST',
    path: '/api/v1/tenants/:tenant/webhooks/:id/test',
    auth: 'session',
    tags: ['notifications'],
    summary: 'Send a signed test event now and report what the receiver answered',
    params: webhookParams,
    response: { 200: z.object({ delivered: z.boolean(), status: z.number().nullable(), error: z.string().nullable() }) },
  }),
  listNotifications: endpoint({
    method: 'GET',
    path: '/api/v1/tenants/:tenant/notifications',
    auth: 'session',
    tags: ['notifications'],
    summary: 'The outbox, newest first: status, attempts and the last delivery error',
    params: tenantParamsSchema,
    query: pageQuerySchema.extend({ status: z.enum(notificationStatuses).optional() }),
    response: { 200: pageSchema(notificationSchema) },
  }),
};
