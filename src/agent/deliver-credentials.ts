/**
 * Emails a new account's credentials to its user straight from the endpoint (Trigger-it's
 * "SMTP from the endpoint"; with a server, Timebox can instead choose the password itself and show
 * it once to the owner or email it from the server: `serverPassword` grants, whose email uses the
 * same words, `credentialEmailText` of the wire contract). The password exists only in memory and
 * in the message: never in logs, the journal, the schedule or error messages.
 */
import os from 'node:os';
import { z } from 'zod';
import { credentialEmailText, type CredentialMessage } from '../agent-wire/credential-message.js';
import { redact } from './host/exec.js';

export const SmtpSettingsSchema = z.strictObject({
  host: z.string().min(1),
  port: z.int().min(1).max(65535),
  /** Implicit TLS from the first byte (port 465). */
  secure: z.boolean().default(false),
  /** Refuse to send unless the server upgrades with STARTTLS: credentials never go in clear. */
  requireStartTls: z.boolean().default(true),
  auth: z.strictObject({ user: z.string().min(1), pass: z.string().min(1) }).optional(),
  from: z.email(),
  /** PEM of a private CA for the server's certificate; the system's CAs are used otherwise. */
  caPem: z.string().optional(),
  /** Name to check in the server's certificate when `host` is an address. */
  tlsServerName: z.string().optional(),
  timeoutMs: z.int().min(1000).max(120_000).default(20_000),
});
export type SmtpSettings = z.infer<typeof SmtpSettingsSchema>;
export type SmtpSettingsInput = z.input<typeof SmtpSettingsSchema>;

export interface CredentialDelivery {
  deliver(message: CredentialMessage): Promise<void>;
}

export class CredentialDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialDeliveryError';
  }
}

export class SmtpCredentialDelivery implements CredentialDelivery {
  private readonly settings: SmtpSettings;

  constructor(settings: SmtpSettingsInput) {
    this.settings = SmtpSettingsSchema.parse(settings);
  }

  async deliver(m: CredentialMessage): Promise<void> {
    const s = this.settings;
    // Loaded on the first email: most hosts never send one, and the agent stays small.
    const { default: nodemailer } = await import('nodemailer');
    const transport = nodemailer.createTransport({
      host: s.host,
      port: s.port,
      secure: s.secure,
      requireTLS: !s.secure && s.requireStartTls,
      ...(s.auth ? { auth: { user: s.auth.user, pass: s.auth.pass } } : {}),
      tls: {
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        ...(s.caPem ? { ca: s.caPem } : {}),
        ...(s.tlsServerName ? { servername: s.tlsServerName } : {}),
      },
      connectionTimeout: s.timeoutMs,
      greetingTimeout: s.timeoutMs,
      socketTimeout: s.timeoutMs,
      // nodemailer's own logger would print the SMTP dialogue, password included.
      logger: false,
      debug: false,
    });
    try {
      await transport.sendMail({
        from: s.from,
        to: m.to,
        subject: `Your temporary account on ${m.hostName}`,
        text: credentialEmailText(m),
      });
    } catch (err) {
      const secrets = [m.password, ...(s.auth ? [s.auth.pass] : [])];
      const code = (err as { code?: unknown }).code;
      // No `cause`: the original error may carry the SMTP dialogue.
      throw new CredentialDeliveryError(
        redact(`email to ${m.to} failed${typeof code === 'string' ? ` (${code})` : ''}: ${(err as Error).message}`, secrets),
      );
    } finally {
      transport.close();
    }
  }
}

export const defaultHostName = () => os.hostname();
