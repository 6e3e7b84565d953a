/**
 * Sends one email through the tenant's own SMTP relay. TLS is required unless the tenant said
 * otherwise (only allowed for a relay on this host or one without a password); every network
 * phase has a timeout, so a dead relay costs a bounded wait, never a stuck dispatcher.
 */
import nodemailer from 'nodemailer';
import { errorText } from './db.js';
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

export type DeliveryResult = { ok: true } | { ok: false; error: string; permanent: boolean };

export const nodemailerTransport: MailTransportFactory = (smtp) => {
  const local = isLoopbackHost(smtp.host);
  const transport = nodemailer.createTransport({
    host: smtp.host,
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
  return {
    sendMail: (m) => transport.sendMail(m),
    close: () => transport.close(),
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

/** Never store a secret in last_error, even if a relay were to echo it back. */
function scrub(text: string, secret: string | null): string {
  if (!secret) return text;
  return [secret, Buffer.from(secret).toString('base64')].reduce((t, s) => t.split(s).join('***'), text);
}

export async function sendEmail(
  smtp: SmtpConfig,
  m: { to: string; subject: string; body: string; id: string },
  factory: MailTransportFactory = nodemailerTransport,
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
    return { ok: false, error: scrub(`SMTP ${smtp.host}:${smtp.port}: ${errorText(err)}`, smtp.password), permanent: isPermanent(err) };
  } finally {
    transport?.close?.();
  }
}
