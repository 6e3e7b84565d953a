/**
 * A real SMTP server for tests (npm smtp-server + mailparser) on 127.0.0.1:<free port>, offering
 * STARTTLS with a throwaway self-signed certificate (openssl) and requiring AUTH after it, so the
 * agent's "STARTTLS required" and authentication settings are exercised for real.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from '../harness/host-namespace.js';
import { waitUntil } from './support.js';

export interface SmtpCatcher {
  port: number;
  caPem: string;
  user: string;
  pass: string;
  messages: ParsedMail[];
  /** Messages refused by `rejectNext`, as the server saw them. */
  rejected: ParsedMail[];
  /** Refuse the next `n` messages with an error that echoes their decoded text (a chatty server). */
  rejectNext(n: number): void;
  /** Whether every session upgraded with STARTTLS before sending. */
  allSecure(): boolean;
  waitForMessage(to: string, timeoutMs: number): Promise<ParsedMail>;
  close(): Promise<void>;
}

export async function startSmtpCatcher(): Promise<SmtpCatcher> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tb-smtp-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  const caPem = await readFile(cert, 'utf8');
  const user = 'agent-mailer';
  const pass = `smtp-${Math.random().toString(36).slice(2)}`;
  const messages: ParsedMail[] = [];
  const rejected: ParsedMail[] = [];
  let toReject = 0;
  const insecureSessions: string[] = [];
  const server = new SMTPServer({
    key: await readFile(key),
    cert: caPem,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === pass) return cb(null, { user });
      return cb(new Error('invalid credentials'));
    },
    onData(stream, session, cb) {
      if (!session.secure) insecureSessions.push(session.id);
      simpleParser(stream)
        .then((m) => {
          if (toReject > 0) {
            toReject--;
            rejected.push(m);
            return cb(Object.assign(new Error(`refused: ${(m.text ?? '').replace(/\s+/g, ' ')}`), { responseCode: 554 }));
          }
          messages.push(m);
          cb();
        })
        .catch(cb);
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const addressOf = (m: ParsedMail) => (Array.isArray(m.to) ? m.to : m.to ? [m.to] : []).flatMap((a) => a.value.map((v) => v.address));
  return {
    port,
    caPem,
    user,
    pass,
    messages,
    rejected,
    rejectNext: (n) => {
      toReject = n;
    },
    allSecure: () => insecureSessions.length === 0,
    waitForMessage: (to, timeoutMs) =>
      waitUntil(`an email to ${to}`, timeoutMs, async () => messages.find((m) => addressOf(m).includes(to))),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Username and password out of the credential email's text. */
export function credentialsFrom(mail: ParsedMail): { username: string; password: string } {
  const text = mail.text ?? '';
  const username = /^Username: (\S+)$/m.exec(text)?.[1];
  const password = /^Password: (\S+)$/m.exec(text)?.[1];
  if (!username || !password) throw new Error(`no credentials in the email: ${text}`);
  return { username, password };
}
