/**
 * The SSH gateway: an SSH server people reach with `ssh -p <port> <target>@<gateway>` (or
 * `timebox ssh <target>`). It knows the person by a gateway certificate or a registered key, lets
 * them through only to a target where they hold an active grant, records the session, and ends
 * it at the grant's end, on early revocation and when an admin kills it. Forwarding of any kind,
 * X11, agent forwarding and subsystems (SFTP) are refused and audited.
 *
 * Nothing that matters lives only here: the session rows carry the kill requests and the grants
 * carry the ends, so any number of gateways can run beside any number of server replicas.
 */
import type { Logger } from 'pino';
import ssh2, { type AuthContext, type Connection, type ServerChannel, type Session } from 'ssh2';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import type { SecretBox } from '../secrets/types.js';
import type { Database } from '../store/schema.js';
import type { Kysely } from 'kysely';
import { decideAccess, REFUSAL_TEXT } from './gateway-access.js';
import { identify } from './gateway-auth.js';
import { gatewayKey } from './gateway-keys.js';
import { startSession, type LiveSession, type Pty } from './gateway-session.js';
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

  const refuse = async (what: { tenantId: string | null; operatorId: string | null; action: string; reason: string; user: string; address: string | null; targetId?: string | null }) => {
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
  };

  const connections = new Set<Connection>();
  const onConnection = (client: Connection, info: { ip?: string }) => {
    const address = info.ip ?? null;
    connections.add(client);
    client.on('close', () => connections.delete(client));
    let who: { operatorId: string; user: string; tenantId: string; targetId: string } | null = null;

    client.on('authentication', (ctx: AuthContext) => {
      void (async () => {
        if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
        const now = deps.clock.now();
        const id = await identify(deps.db, caBlob, ctx, Math.floor(now.getTime() / 1000));
        if (id.kind === 'would_accept') return ctx.accept();
        if (id.kind === 'refused') {
          // Only an attempt with a signature is worth an audit event; bare key probes are not.
          if (ctx.signature || id.reason !== 'unknown_key') {
            await refuse({ tenantId: null, operatorId: id.operatorId, action: 'gateway.access_refused', reason: id.reason, user: ctx.username, address });
          }
          return ctx.reject(['publickey']);
        }
        const decision = await decideAccess(deps, id.operatorId, ctx.username, now);
        if (!decision.ok) {
          await refuse({ tenantId: decision.tenantId, targetId: decision.targetId, operatorId: id.operatorId, action: 'gateway.access_refused', reason: decision.refusal, user: ctx.username, address });
          return ctx.reject(['publickey']);
        }
        who = { operatorId: id.operatorId, user: ctx.username, tenantId: decision.access.tenantId, targetId: decision.access.targetId };
        ctx.accept();
      })().catch((err: unknown) => {
        deps.log.error({ err }, 'gateway authentication failed');
        ctx.reject();
      });
    });

    const refuseFeature = (feature: string) => {
      if (!who) return;
      void refuse({ tenantId: who.tenantId, targetId: who.targetId, operatorId: who.operatorId, action: 'gateway.feature_refused', reason: feature, user: who.user, address });
    };

    client.on('ready', () => {
      client.on('session', (accept) => {
        const channel: Session = accept();
        let pty: Pty | null = null;
        let live: LiveSession | null = null;
        let started = false;
        const begin = (kind: 'shell' | 'exec', command: string | null, ch: ServerChannel) => {
          deps.log.debug({ kind, started, who: !!who }, 'session request');
          if (started || !who) return;
          started = true;
          const person = who;
          void (async () => {
            // Checked again: the grant may have ended between sign-in and this request.
            const decision = await decideAccess(deps, person.operatorId, person.user, deps.clock.now());
            if (!decision.ok) {
              await refuse({ tenantId: decision.tenantId, targetId: decision.targetId, operatorId: person.operatorId, action: 'gateway.access_refused', reason: decision.refusal, user: person.user, address });
              ch.stderr.write(`timebox gateway: ${REFUSAL_TEXT[decision.refusal]}\r\n`);
              ch.exit(1);
              ch.close();
              return;
            }
            live = await startSession(sessionDeps, ch, { kind, command, pty, operatorId: person.operatorId, clientAddress: address, access: decision.access }, (id) => {
              sessions.delete(id);
              watch.forget(id);
            });
            // A command that ended at once has already left (its row is closed).
            if (live && !live.ending) {
              sessions.set(live.id, live);
              watch.track(live, decision.access.expiresAt);
            }
          })().catch((err: unknown) => {
            deps.log.error({ err }, 'starting a gateway session failed');
            try {
              ch.stderr.write('timebox gateway: the session could not be started\r\n');
              ch.exit(1);
              ch.close();
            } catch {
              // the person's side is already gone
            }
          });
        };
        channel.on('pty', (ok, _no, p) => {
          pty = { term: p.term, cols: p.cols, rows: p.rows, width: p.width, height: p.height };
          ok?.();
        });
        channel.on('window-change', (ok, _no, p) => {
          if (pty) pty = { ...pty, cols: p.cols, rows: p.rows, width: p.width, height: p.height };
          live?.resize(p);
          ok?.();
        });
        channel.on('env', (_ok, no) => no?.());
        channel.on('signal', (ok, _no, s) => {
          live?.signal(s.name);
          ok?.();
        });
        channel.on('shell', (ok) => {
          begin('shell', null, ok());
        });
        channel.on('exec', (ok, _no, e) => {
          begin('exec', e.command, ok());
        });
        channel.on('subsystem', (_ok, no, s) => {
          refuseFeature(`subsystem:${s.name.slice(0, 40)}`);
          no();
        });
        channel.on('x11', (_ok, no) => {
          refuseFeature('x11_forwarding');
          no();
        });
        channel.on('auth-agent', (_ok, no) => {
          refuseFeature('agent_forwarding');
          no?.();
        });
      });
      client.on('tcpip', (_ok, no, t) => {
        refuseFeature(`port_forwarding:${t.destIP.slice(0, 100)}:${t.destPort}`);
        no();
      });
      client.on('openssh.streamlocal', (_ok, no) => {
        refuseFeature('socket_forwarding');
        no();
      });
    });
    client.on('request', (_ok, no, name) => {
      refuseFeature(`remote_forwarding:${name}`);
      no?.();
    });
    client.on('error', (err) => deps.log.debug({ err }, 'gateway client connection error'));
  };

  const server = new ssh2.Server({ hostKeys: [hostKey.privateKey], ident: 'Timebox-Gateway' }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err: Error) => deps.log.error({ err }, 'gateway server error'));
  const port = (server.address() as { port: number }).port;
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
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...sessions.values()].map((s) => s.end('gateway_stopped', 'the gateway is stopping')));
      for (const c of connections) c.end();
      await closed;
    },
  };
}
