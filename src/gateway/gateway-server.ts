/**
 * The SSH gateway: an SSH server people reach with `ssh -p <port> <target>@<gateway>` (or
 * `timebox ssh <target>`). It knows the person by a gateway certificate or a registered key, lets
 * them through only to a target where they hold an active grant, records the session, and ends
 * it at the grant's end, on early revocation and when an admin kills it. `ssh -J` through it ends
 * at the gateway itself (see gateway-connection.ts); SFTP and `-L` forwards pass when the grant's
 * policy allows them; other forwarding, X11 and agent forwarding are refused and audited.
 *
 * Nothing that matters lives only here: the session rows carry the kill requests and the grants
 * carry the ends, so any number of gateways can run beside any number of server replicas.
 */
import type { Logger } from 'pino';
import { createServer } from 'node:net';
import ssh2, { type Connection } from 'ssh2';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import type { Kysely } from 'kysely';
import { handleConnection, type ConnectionContext } from './gateway-connection.js';
import { preSignInLimits, SIGN_IN_LIMITS, socketKey } from './pre-sign-in.js';
import { gatewayKey } from './gateway-keys.js';
import type { LiveSession } from './gateway-session.js';
import { closeAbandonedSessions } from './gateway-sessions.js';
import { createGrantWatch } from './grant-watch.js';
import type { RecordingStore } from './recording-store.js';
import type { LiveFeed } from './live-feed.js';

export interface GatewayDeps {
  db: Kysely<Database>;
  secrets: SecretBox;
  audit: AuditLog;
  clock: Clock;
  log: Logger;
  outbound: OutboundPolicy;
  recordings: RecordingStore;
  /** Stable across restarts of the same gateway: at start it closes what it held as abnormal. */
  gatewayId: string;
  recordInput: boolean;
  /** Recording flush interval (≤ 2000 ms). */
  flushMs?: number;
  /** How often the live sessions' grants and kill requests are read. */
  pollMs?: number;
  /** The notice on the terminal this long before the grant ends. */
  warnSeconds?: number;
  /** A connection not signed in by then is closed (default 120 s, as OpenSSH's LoginGraceTime). */
  loginGraceMs?: number;
  /** Where watched sessions' output goes to the live view. */
  liveFeed?: LiveFeed;
}

export interface Gateway {
  port: number;
  host: string;
  hostKeyFingerprint: string;
  /** Sessions this gateway holds now. */
  live(): LiveSession[];
  close(): Promise<void>;
}

export async function startGateway(deps: GatewayDeps, listen: { host: string; port: number }): Promise<Gateway> {
  const hostKey = await gatewayKey(deps, 'host');
  const ca = await gatewayKey(deps, 'user_ca');
  const caBlob = Buffer.from(ca.publicKey.split(' ')[1]!, 'base64');
  const abandoned = await closeAbandonedSessions(deps, { gatewayId: deps.gatewayId });
  if (abandoned > 0) deps.log.warn({ abandoned, gatewayId: deps.gatewayId }, 'closed sessions this gateway held when it stopped abnormally');

  const sessionDeps = { ...deps, flushMs: deps.flushMs ?? 1000 };
  const sessions = new Map<string, LiveSession>();
  const watch = createGrantWatch({ ...deps, sessions: () => sessions, pollMs: deps.pollMs ?? 250, warnSeconds: deps.warnSeconds ?? 60 });

  const connections = new Set<Connection>();
  const ctx: ConnectionContext = {
    deps: sessionDeps,
    caBlob,
    hostKey: hostKey.privateKey,
    connections,
    signedIn: (socket) => preSignIn.signedIn(socket),
    track(live, endsAt) {
      sessions.set(live.id, live);
      watch.track(live, endsAt);
    },
    forget(id) {
      sessions.delete(id);
      watch.forget(id);
    },
    async refuse(what) {
      deps.log.info({ ...what }, 'gateway refused');
      await deps.audit
        .append(deps.db, {
          tenantId: what.tenantId,
          actor: what.operatorId ? { type: 'operator', id: what.operatorId } : { type: 'system', id: null },
          action: what.action,
          subject: what.targetId ? { type: 'target', id: what.targetId } : { type: 'gateway', id: null },
          after: { reason: what.reason, sshUser: what.user.slice(0, 200), clientAddress: what.address, gatewayId: deps.gatewayId },
        })
        .catch((err: unknown) => deps.log.error({ err }, 'auditing a gateway refusal failed'));
    },
  };
  const onConnection = (client: Connection, info: { ip?: string; port?: number }) =>
    handleConnection(ctx, client, { address: info.ip ?? null, jump: null, socket: socketKey(info.ip, info.port) });

  const server = new ssh2.Server({ hostKeys: [hostKey.privateKey], ident: 'Timebox-Gateway' }, onConnection);
  server.on('error', (err: Error) => deps.log.error({ err }, 'gateway server error'));
  // Our own listener: the limits before sign-in start at the TCP connection, before ssh2 has read
  // the client's identification (a socket that never sends one is held by nobody else).
  const preSignIn = preSignInLimits(deps.log, deps.loginGraceMs ?? SIGN_IN_LIMITS.graceMs);
  const tcp = createServer((socket) => {
    if (preSignIn.admit(socket)) server.injectSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(listen.port, listen.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  tcp.on('error', (err: Error) => deps.log.error({ err }, 'gateway server error'));
  const port = (tcp.address() as { port: number }).port;
  watch.start();
  deps.log.info({ host: listen.host, port, fingerprint: hostKey.fingerprint, gatewayId: deps.gatewayId }, 'ssh gateway ready');

  return {
    port,
    host: listen.host,
    hostKeyFingerprint: hostKey.fingerprint,
    live: () => [...sessions.values()],
    async close() {
      await watch.stop();
      // Stop accepting first; the close callback waits for the open connections, ended next.
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      preSignIn.close();
      await Promise.all([...sessions.values()].map((s) => s.end('gateway_stopped', 'the gateway is stopping')));
      for (const c of connections) c.end();
      await closed;
    },
  };
}
