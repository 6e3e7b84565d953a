/**
 * Delivers the outbox. Its own loop, its own timer and its own small concurrency bound, sharing
 * nothing with the scheduler that revokes access, so a slow relay or a dead webhook can never
 * delay a revocation; no database connection is held while talking to the network. One timer
 * is aimed at the next due row, and a periodic sweep finds rows queued by other processes.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { backoffDelay, type RetryPolicy } from '../core/retry.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import { errorText } from './db.js';
import { pinnedSmtpTransport, sendEmail, type DeliveryResult, type MailTransportFactory } from './deliver-email.js';
import { postWebhook, WEBHOOK_TIMEOUT_MS } from './deliver-webhook.js';
import { deliverHostCredentials, HOST_CREDENTIALS_EVENT } from './host-credentials.js';
import { deliverInvitationEmail, INVITATION_EVENT } from './invitation-email.js';
import { NO_SMTP_SETTINGS } from './notifier.js';
import {
  claimDueNotifications,
  markFailed,
  markSent,
  nextNotificationDueAt,
  releaseNotificationLeasesOf,
  retryLater,
  type ClaimedNotification,
} from './outbox.js';
import { loadSmtpConfig } from './settings.js';
import { loadWebhook } from './webhooks.js';

/** Eight attempts over about ten minutes: 5 s, 10 s, 20 s … capped at 5 min, half of each jittered. */
export const notificationRetryPolicy: RetryPolicy = { baseMs: 5_000, maxMs: 5 * 60_000, maxAttempts: 8, slowRetryMs: 5 * 60_000 };

export interface DispatcherOptions {
  db: Kysely<Database>;
  secrets: SecretBox;
  clock: Clock;
  log: Logger;
  workerId: string;
  /** Where the server may connect: SMTP relays and webhook hosts are resolved and checked by it. */
  outbound: OutboundPolicy;
  /** How emails leave; default nodemailer over the tenant's SMTP settings, pinned by `outbound`. */
  transport?: MailTransportFactory;
  retry?: RetryPolicy;
  random?: () => number;
  /** Deliveries in flight at once in this process. */
  maxInFlight?: number;
  sweepMs?: number;
  leaseMs?: number;
  webhookTimeoutMs?: number;
}

export interface NotificationDispatcher {
  start(): void;
  /** Look now: something was just queued (call after the transaction committed). */
  poke(): void;
  /** Deliver everything due now until nothing is left; for tests driving a fake clock. */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

export function createNotificationDispatcher(opts: DispatcherOptions): NotificationDispatcher {
  const { db, secrets, clock, log } = opts;
  const retry = opts.retry ?? notificationRetryPolicy;
  const maxInFlight = opts.maxInFlight ?? 4;
  const sweepMs = opts.sweepMs ?? 2_000;
  // Longer than the slowest delivery (SMTP: 10 s connect + 30 s socket), so a lease never lapses mid-send.
  const leaseMs = opts.leaseMs ?? 120_000;
  const transport = opts.transport ?? pinnedSmtpTransport(opts.outbound);

  async function deliver(n: ClaimedNotification): Promise<DeliveryResult> {
    if (n.channel === 'email') {
      let smtp;
      try {
        smtp = await loadSmtpConfig(db, secrets, n.tenantId);
      } catch {
        return { ok: false, permanent: true, error: 'the stored SMTP password cannot be decrypted; save the SMTP settings again' };
      }
      if (!smtp) return { ok: false, permanent: true, error: NO_SMTP_SETTINGS };
      return sendEmail(smtp, { to: n.recipient, subject: n.subject, body: n.body, id: n.id }, transport);
    }
    let hook;
    try {
      hook = await loadWebhook(db, secrets, n.tenantId, n.recipient);
    } catch {
      return { ok: false, permanent: true, error: 'the stored webhook secret cannot be decrypted; create the webhook again' };
    }
    if (!hook) return { ok: false, permanent: true, error: 'the webhook was deleted before delivery' };
    if (!hook.enabled) return { ok: false, permanent: true, error: 'the webhook is disabled' };
    const rawBody = JSON.stringify(n.payload);
    return postWebhook(hook, { id: n.id, event: n.event, rawBody }, clock.now(), opts.outbound, opts.webhookTimeoutMs ?? WEBHOOK_TIMEOUT_MS);
  }

  async function run(n: ClaimedNotification): Promise<void> {
    // Emails carrying a sealed secret (sealed-secret.ts) are rendered and erased on their own path.
    const sealed = n.event === HOST_CREDENTIALS_EVENT ? deliverHostCredentials : n.event === INVITATION_EVENT ? deliverInvitationEmail : null;
    if (sealed) {
      return sealed({ db, secrets, clock, log, transport, retry, random: opts.random }, n).catch((err: unknown) => {
        // The lease lapses and another claim tries again; the error never holds the secret.
        log.error({ err: errorText(err), notification: n.id, event: n.event }, 'email with a secret: delivery failed unexpectedly');
      });
    }
    let result: DeliveryResult;
    try {
      result = await deliver(n);
    } catch (err) {
      // A bug or a store error: keep the message and retry, never drop it silently.
      log.error({ err, notification: n.id }, 'notification delivery failed unexpectedly');
      result = { ok: false, permanent: false, error: errorText(err) };
    }
    try {
      if (result.ok) return await markSent(db, n, clock.now());
      const last = result.permanent || n.attempts >= retry.maxAttempts;
      log.warn({ notification: n.id, tenantId: n.tenantId, channel: n.channel, attempts: n.attempts, final: last, error: result.error, detail: result.detail }, 'notification not delivered');
      if (last) {
        const note = result.permanent ? '' : ` (gave up after ${n.attempts} attempts)`;
        await markFailed(db, n, `${result.error}${note}`);
      } else {
        await retryLater(db, n, new Date(clock.now().getTime() + backoffDelay(retry, n.attempts, opts.random)), result.error);
      }
    } catch (err) {
      // The lease lapses and another claim retries the delivery.
      log.error({ err, notification: n.id }, 'could not record a notification outcome');
    }
  }

  let stopped = true;
  let timer: NodeJS.Timeout | null = null;
  let claiming = false;
  let again = false;
  const inFlight = new Set<Promise<void>>();

  function aim(delay: number) {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(poke, Math.max(0, delay));
    timer.unref();
  }

  async function loop() {
    claiming = true;
    try {
      do {
        again = false;
        const batch = await claimDueNotifications(db, { workerId: opts.workerId, now: clock.now(), limit: maxInFlight - inFlight.size, leaseMs });
        for (const n of batch) {
          const p = run(n).finally(() => {
            inFlight.delete(p);
            poke();
          });
          inFlight.add(p);
        }
      } while (again && !stopped);
      if (inFlight.size >= maxInFlight) {
        aim(sweepMs); // full: each finished delivery pokes, so due rows are not left waiting
      } else {
        const next = await nextNotificationDueAt(db, clock.now());
        aim(next ? Math.min(sweepMs, next.getTime() - clock.now().getTime()) : sweepMs);
      }
    } catch (err) {
      log.warn({ err }, 'notification dispatcher could not read the outbox; retrying at the next sweep');
      aim(sweepMs);
    } finally {
      claiming = false;
    }
    // Poked while reading the next due time: look again rather than wait for the timer.
    if (again && !stopped) poke();
  }

  /** The claim round under way, so stop() also waits for deliveries it is about to start. */
  let round: Promise<void> = Promise.resolve();
  function poke() {
    if (stopped) return;
    if (claiming) again = true;
    else round = loop();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      void releaseNotificationLeasesOf(db, opts.workerId)
        .catch((err: unknown) => log.warn({ err }, 'could not take back notification leases'))
        .finally(poke);
    },
    poke,
    async drain() {
      let total = 0;
      for (;;) {
        // Deliveries the timer already started count too: drained means nothing is on its way.
        await round;
        await Promise.allSettled([...inFlight]);
        const batch = await claimDueNotifications(db, { workerId: opts.workerId, now: clock.now(), limit: maxInFlight, leaseMs });
        if (batch.length === 0 && inFlight.size === 0) return total;
        total += batch.length;
        await Promise.all(batch.map(run));
      }
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await round;
      await Promise.allSettled([...inFlight]);
    },
  };
}
