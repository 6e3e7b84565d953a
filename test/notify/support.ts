/**
 * What the notification tests talk to: a real SMTP server (smtp-server, parsed with mailparser)
 * and a real HTTP listener, both on 127.0.0.1 and port 0, plus a store with a fake clock and a
 * tenant of people. Nothing here sleeps: tests wait on events (a message received) or drive time.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { fakeClock } from '../../src/core/clock.js';
import { createNotificationDispatcher } from '../../src/notify/dispatcher.js';
import { createOutboundPolicy } from '../../src/net/outbound-policy.js';
import type { GrantSummary } from '../../src/notify/events.js';
import { createSecretBox } from '../../src/secrets/envelope.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../harness/pglite-template.js';

export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  raw: string;
}

/** `refuse` names recipients the relay answers 550 for (a mailbox that does not exist). */
export async function startSmtpSink(credentials: { username: string; password: string }, refuse: (address: string) => boolean = () => false) {
  const received: ReceivedMail[] = [];
  const logins: string[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    // Plain AUTH without TLS is only acceptable because this relay is on 127.0.0.1.
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === credentials.username && auth.password === credentials.password) {
        logins.push(auth.username ?? '');
        return cb(null, { user: auth.username });
      }
      return cb(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, cb) {
      if (refuse(address.address)) return cb(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }));
      return cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        // Parsed before the server answers, so the message is here when sendMail resolves.
        simpleParser(raw).then(
          (m) => {
            received.push({ to: session.envelope.rcptTo.map((r) => r.address), from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', subject: m.subject ?? '', text: m.text ?? '', raw });
            cb();
          },
          (err: Error) => cb(err),
        );
      });
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, logins, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
}

/** Answers each request with `status(n)` (n counts from 1; 0 = never answer); resolves waiters as requests arrive. */
export async function startReceiver(status: (n: number) => number = () => 200) {
  const requests: ReceivedRequest[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, rawBody: Buffer.concat(chunks).toString('utf8') });
      const code = status(requests.length);
      if (code !== 0) {
        res.statusCode = code;
        res.end('ok');
      }
      waiters.splice(0).forEach((w) => w());
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    requests,
    /** Resolves once `count` requests have arrived. */
    async waitFor(count: number) {
      while (requests.length < count) await new Promise<void>((r) => waiters.push(r));
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A throwaway store (PGlite unless a PostgreSQL store is given), a fake clock and a few people. */
export async function createNotifyKit(opts: { store?: Store } = {}) {
  const store = opts.store ?? (await openTestStore());
  const clock = fakeClock('2026-03-01T09:00:00.000Z');
  const secrets = createSecretBox(randomBytes(32));
  const audit = createAuditLog({ clock });
  const log = pino({ level: process.env.TIMEBOX_TEST_LOG ?? 'silent' });
  const db = store.db;

  async function seedTenant(name: string) {
    const id = randomUUID();
    const slug = `${name.toLowerCase()}-${id.slice(0, 6)}`;
    await db.insertInto('tenants').values({ id, slug, name, created_at: clock.now() }).execute();
    return { id, slug, name };
  }

  async function seedOperator(tenantId: string | null, email: string, opts: { disabled?: boolean } = {}) {
    const id = randomUUID();
    await db.insertInto('operators').values({ id, email, display_name: email.split('@')[0]!, created_at: clock.now(), disabled: opts.disabled ?? false }).execute();
    if (tenantId) await db.insertInto('memberships').values({ tenant_id: tenantId, operator_id: id, roles: ['approver'], created_at: clock.now() }).execute();
    return { id, email };
  }

  // Test receivers and relays listen on this host: the server operator's allowance for loopback.
  const outbound = createOutboundPolicy({ allow: 'loopback' });
  const kit = { db, clock, secrets, audit, log, outbound };
  /** A dispatcher that never waits: its retries are driven by the fake clock. */
  const dispatcherFor = (workerId: string) => createNotificationDispatcher({ ...kit, workerId, random: () => 1, sweepMs: 50 });

  return { ...kit, store, seedTenant, seedOperator, dispatcherFor, close: () => (opts.store ? Promise.resolve() : store.close()) };
}

export function grantSummary(over: Partial<GrantSummary> = {}): GrantSummary {
  return {
    id: randomUUID(),
    requesterEmail: 'rita@acme.test',
    targetName: 'prod-db',
    entitlements: ['read', 'write'],
    durationSeconds: 2 * 3600,
    expiresAt: null,
    reason: 'INC-1234: fix the broken index',
    ...over,
  };
}
