/**
 * Sends one email through the tenant's own SMTP relay. TLS is required unless the tenant said
 * otherwise (only allowed for a relay on this host or one without a password); every network
 * phase has a timeout, so a dead relay costs a bounded wait, never a stuck dispatcher.
 */
import { isIP } from 'node:net';
import type nodemailer from 'nodemailer';
import { failureClass } from '../net/failure-class.js';
import { errorText } from './db.js';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import type { SmtpConfig } from './settings.js';
import { isLoopbackHost } from './url-policy.js';

export interface MailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  headers: Record<string, string>;
}

export interface MailTransport {
  sendMail(message: MailMessage): Promise<unknown>;
  close?(): void;
}

/** Injected in tests that want to see what would be sent without a relay. */
export type MailTransportFactory = (smtp: SmtpConfig) => MailTransport;

/** `error` is stored and shown to the tenant; `detail` (the library's own words) goes to the server log only. */
export type DeliveryResult = { ok: true } | { ok: false; error: string; permanent: boolean; detail?: string };

/**
 * Nodemailer to the relay, through the outbound policy: the host is resolved and checked first and
 * the connection made to that address, with the configured name kept for the TLS check.
 */
export const pinnedSmtpTransport =
  (policy: OutboundPolicy): MailTransportFactory =>
  (smtp) => {
    let transport: ReturnType<typeof nodemailer.createTransport> | null = null;
    return {
      async sendMail(m) {
        const pinned = await policy.resolve(smtp.host);
        // Loaded with the first message: a server start sends none.
        const { default: mailer } = await import('nodemailer');
        const local = isLoopbackHost(smtp.host) || isLoopbackHost(pinned.address);
        transport = mailer.createTransport({
          host: pinned.address,
          ...(isIP(smtp.host) ? {} : { servername: smtp.host }),
          port: smtp.port,
          secure: smtp.secure,
          requireTLS: !smtp.secure && smtp.requireTls,
          // A relay on this host with TLS off: do not try STARTTLS against its (often self-signed) cert.
          ignoreTLS: !smtp.secure && !smtp.requireTls && local,
          auth: smtp.username ? { user: smtp.username, pass: smtp.password ?? '' } : undefined,
          tls: { minVersion: 'TLSv1.2' },
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 30_000,
          dnsTimeout: 10_000,
          disableFileAccess: true,
          disableUrlAccess: true,
        });
        return transport.sendMail(m);
      },
      close: () => transport?.close(),
    };
  };

/**
 * A recipient or message refused for good (5xx to RCPT/DATA) will not change on retry. Settings
 * problems (login, TLS, connection) are retried: an admin may fix them within the retry window.
 */
function isPermanent(err: unknown): boolean {
  const e = err as { responseCode?: unknown; code?: unknown };
  return (e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && typeof e.responseCode === 'number' && e.responseCode >= 500;
}

/**
 * What the tenant reads in the outbox: a class and the SMTP reply code, never the relay's words
 * (which may be an internal service's banner, or echo a secret).
 */
/** Never log a secret, even if a relay were to echo it back. */
function scrub(text: string, secret: string | null): string {
  if (!secret) return text;
  return [secret, Buffer.from(secret).toString('base64')].reduce((t, s) => t.split(s).join('***'), text);
}

function smtpFailure(err: unknown, smtp: SmtpConfig): string {
  const e = err as { code?: unknown; responseCode?: unknown };
  const reply = typeof e.responseCode === 'number' ? ` (SMTP ${e.responseCode})` : '';
  if (e.code === 'EENVELOPE') return `recipient refused${reply}`;
  if (e.code === 'EMESSAGE') return `message refused${reply}`;
  if (e.code === 'EAUTH') return `authentication failed${reply}`;
  const cls = failureClass(err);
  if (cls === 'TLS failed' && !smtp.secure && smtp.requireTls) return 'TLS failed (the relay must offer STARTTLS with a trusted certificate)';
  return `${cls}${reply}`;
}

export async function sendEmail(
  smtp: SmtpConfig,
  m: { to: string; subject: string; body: string; id: string },
  factory: MailTransportFactory,
): Promise<DeliveryResult> {
  let transport: MailTransport | null = null;
  try {
    transport = factory(smtp);
    await transport.sendMail({
      from: smtp.from,
      to: m.to,
      subject: m.subject,
      text: m.body,
      // Tells auto-responders (out of office) not to answer, and lets people trace a message.
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Timebox-Notification': m.id },
    });
    return { ok: true };
  } catch (err) {
    return {
      ok: false,
      error: `SMTP ${smtp.host}:${smtp.port}: ${smtpFailure(err, smtp)}`,
      permanent: isPermanent(err),
      detail: scrub(errorText(err), smtp.password),
    };
  } finally {
    transport?.close?.();
  }
}
