/**
 * One SSH connection to the gateway, from sign-in to its last channel. The SSH user name names the
 * target (`web-01`, `acme+web-01`); a connection whose user name names no target is a jump
 * connection (`ssh -J`): it carries no session, only direct-tcpip channels to a target by name,
 * which the gateway terminates itself as a second SSH connection over the channel (the inner one,
 * signed in again by the same person) and runs through the same pipeline.
 *
 * Sessions (shell, exec) are recorded and end with the grant; SFTP and `-L` forwards are relayed
 * when the grant's policy allows them; everything else is refused and audited.
 */
import type { Socket } from 'node:net';
import ssh2, { type AuthContext, type Connection, type ServerChannel, type Session, type TcpipRequestInfo } from 'ssh2';
import { decideAccess, REFUSAL_TEXT, type GatewayAccess } from './gateway-access.js';
import { identify } from './gateway-auth.js';
import { gatewayOptionsOf } from './gateway-policy.js';
import { gatewayDb } from '../store/schema-gateway.js';
import type { GatewayDeps } from './gateway-server.js';
import { startSession, type LiveSession, type Pty } from './gateway-session.js';
import { startForwardSession, type ForwardSession } from './forward-session.js';
import { startSftpSession } from './sftp-session.js';
import { SIGN_IN_LIMITS } from './pre-sign-in.js';

/** What a connection needs from its gateway. */
export interface ConnectionContext {
  deps: GatewayDeps & { flushMs: number };
  caBlob: Buffer;
  hostKey: string;
  connections: Set<Connection>;
  /** The TCP connection (`address|port`) signed in: the limits before sign-in no longer apply. */
  signedIn(socket: string): void;
  /** Registers a live session: listed, watched for its grant's end and kill requests. */
  track(live: LiveSession, endsAt: Date): void;
  forget(id: string): void;
  refuse(what: Refusal): Promise<void>;
}

export interface Refusal {
  tenantId: string | null;
  operatorId: string | null;
  action: string;
  reason: string;
  user: string;
  address: string | null;
  targetId?: string | null;
}

const SIGN_IN_GONE_TEXT = {
  sessions_ended: 'your sign-ins were ended since this connection signed in: sign in to Timebox again',
  key_removed: 'the key this connection signed in with is no longer registered',
} as const;

/** The port a jump names: `ssh -J gateway web-01` asks for web-01:22. */
export const JUMP_PORT = 22;

interface Person {
  operatorId: string;
  user: string;
  /** When this connection signed in: sign-ins ended after it (end-sessions) close it. */
  signedInAt: Date;
  /** The registered key it signed in with (null: a gateway certificate, which expires by itself). */
  keyFingerprint: string | null;
}
interface Who extends Person {
  tenantId: string;
  targetId: string;
  /** From the grant's policy at sign-in (checked again when used). */
  allowSftp: boolean;
}

export function handleConnection(
  ctx: ConnectionContext,
  client: Connection,
  opts: { address: string | null; jump: Pick<Person, 'operatorId' | 'user'> | null; socket?: string },
): void {
  const { deps } = ctx;
  const address = opts.address;
  // Its TCP connection stops counting against the limits before sign-in.
  if (opts.socket) {
    const socket = opts.socket;
    client.once('ready', () => ctx.signedIn(socket));
  }
  ctx.connections.add(client);
  client.on('close', () => ctx.connections.delete(client));
  let refusedAttempts = 0;
  const reject = (auth: AuthContext, methods?: Parameters<AuthContext['reject']>[0]) => {
    auth.reject(methods);
    if (++refusedAttempts >= SIGN_IN_LIMITS.refusedAttempts) {
      deps.log.info({ address }, `gateway closed a connection after ${SIGN_IN_LIMITS.refusedAttempts} refused sign-in attempts`);
      client.end();
    }
  };
  let who: Who | null = null;
  /** Set on a jump connection (its user name names no target). */
  let jumper: Person | null = null;
  let forwards: Promise<ForwardSession | null> | null = null;

  client.on('authentication', (auth: AuthContext) => {
    void (async () => {
      if (auth.method !== 'publickey') return reject(auth, ['publickey']);
      const now = deps.clock.now();
      const id = await identify(deps.db, ctx.caBlob, auth, Math.floor(now.getTime() / 1000));
      if (id.kind === 'would_accept') return auth.accept();
      if (id.kind === 'refused') {
        // The audit log keeps attempts on someone's key or certificate. A key or certificate that
        // names nobody (a stranger's, a self-made CA's) is anyone's to send, over and over, with a
        // name of their choosing: the server log has it, the audit chain does not.
        if (id.operatorId !== null) {
          await ctx.refuse({ tenantId: null, operatorId: id.operatorId, action: 'gateway.access_refused', reason: id.reason, user: auth.username, address });
        } else if (auth.signature) {
          deps.log.info({ reason: id.reason, address }, 'gateway refused a key or certificate of nobody it knows');
        }
        return reject(auth, ['publickey']);
      }
      if (opts.jump && id.operatorId !== opts.jump.operatorId) {
        // The inner connection of a jump is the same person's, or nobody's.
        await ctx.refuse({ tenantId: null, operatorId: id.operatorId, action: 'gateway.access_refused', reason: 'jump_other_person', user: auth.username, address });
        return reject(auth, ['publickey']);
      }
      // Inside a jump, the channel named the target; the inner user name is free (the session runs as the grant's account).
      const targetUser = opts.jump ? opts.jump.user : auth.username;
      const signedIn = { signedInAt: id.issuedAt ?? now, keyFingerprint: id.fingerprint };
      // A certificate issued before the person's sign-ins were ended is refused like the sessions were.
      const gone = await signInGone({ operatorId: id.operatorId, ...signedIn });
      if (gone) {
        await ctx.refuse({ tenantId: null, operatorId: id.operatorId, action: 'gateway.access_refused', reason: gone, user: targetUser, address });
        return reject(auth, ['publickey']);
      }
      const decision = await decideAccess(deps, id.operatorId, targetUser, now);
      if (!decision.ok && decision.refusal === 'no_such_target' && !opts.jump) {
        jumper = { operatorId: id.operatorId, user: auth.username, ...signedIn };
        return auth.accept();
      }
      if (!decision.ok) {
        await ctx.refuse({ tenantId: decision.tenantId, targetId: decision.targetId, operatorId: id.operatorId, action: 'gateway.access_refused', reason: decision.refusal, user: targetUser, address });
        return reject(auth, ['publickey']);
      }
      const options = await gatewayOptionsOf(deps.db, decision.access.grantId);
      who = { operatorId: id.operatorId, user: targetUser, ...signedIn, tenantId: decision.access.tenantId, targetId: decision.access.targetId, allowSftp: options.allowSftp };
      auth.accept();
    })().catch((err: unknown) => {
      deps.log.error({ err }, 'gateway authentication failed');
      reject(auth);
    });
  });

  const refuseFeature = (feature: string) => {
    const person = who ?? jumper;
    if (!person) return;
    void ctx.refuse({ tenantId: who?.tenantId ?? null, targetId: who?.targetId ?? null, operatorId: person.operatorId, action: 'gateway.feature_refused', reason: feature, user: person.user, address });
  };

  /**
   * Whether this connection's sign-in still stands: the person's sign-ins were not ended since
   * (end-sessions, a sign-in reset) and the registered key it used was not removed. Else the
   * connection closes: a stolen key held open (ControlMaster) opens nothing more.
   */
  const signInGone = async (person: Pick<Person, 'operatorId' | 'signedInAt' | 'keyFingerprint'>): Promise<'sessions_ended' | 'key_removed' | null> => {
    const op = await deps.db.selectFrom('operators').select('sessions_ended_at').where('id', '=', person.operatorId).executeTakeFirst();
    if (op?.sessions_ended_at && op.sessions_ended_at.getTime() >= person.signedInAt.getTime()) return 'sessions_ended';
    if (person.keyFingerprint) {
      const key = await gatewayDb(deps.db)
        .selectFrom('operator_ssh_keys')
        .select('operator_id')
        .where('fingerprint', '=', person.keyFingerprint)
        .where('operator_id', '=', person.operatorId)
        .executeTakeFirst();
      if (!key) return 'key_removed';
    }
    return null;
  };

  /** True (refused, audited, connection closed) when the sign-in is gone; `tell` shows why on a channel. */
  const closedForSignIn = async (person: Who, tell?: (text: string) => void): Promise<boolean> => {
    const gone = await signInGone(person);
    if (!gone) return false;
    await ctx.refuse({ tenantId: person.tenantId, targetId: person.targetId, operatorId: person.operatorId, action: 'gateway.access_refused', reason: gone, user: person.user, address });
    tell?.(SIGN_IN_GONE_TEXT[gone]);
    client.end();
    return true;
  };

  /** The sign-in and the grant, checked again at each use: either may have ended since sign-in. */
  const currentAccess = async (person: Who): Promise<GatewayAccess | null> => {
    if (await closedForSignIn(person)) return null;
    const decision = await decideAccess(deps, person.operatorId, person.user, deps.clock.now());
    if (decision.ok) return decision.access;
    await ctx.refuse({ tenantId: decision.tenantId, targetId: decision.targetId, operatorId: person.operatorId, action: 'gateway.access_refused', reason: decision.refusal, user: person.user, address });
    return null;
  };

  const onSession = (accept: () => Session) => {
    const channel: Session = accept();
    let pty: Pty | null = null;
    let live: LiveSession | null = null;
    let started = false;
    const tell = (ch: ServerChannel, text: string) => {
      try {
        ch.stderr.write(`timebox gateway: ${text}\r\n`);
        ch.exit(1);
        ch.close();
      } catch {
        // the person's side is already gone
      }
    };
    const begin = (kind: 'shell' | 'exec', command: string | null, ch: ServerChannel) => {
      if (started) return;
      started = true;
      const person = who;
      if (!person) {
        if (jumper) void ctx.refuse({ tenantId: null, operatorId: jumper.operatorId, action: 'gateway.access_refused', reason: 'no_such_target', user: jumper.user, address });
        tell(ch, `no target named "${jumper?.user ?? ''}" in your tenants: use <target>@<gateway>, or ssh -J <gateway> <target>`);
        return;
      }
      void (async () => {
        if (await closedForSignIn(person, (text) => tell(ch, text))) return;
        const decision = await decideAccess(deps, person.operatorId, person.user, deps.clock.now());
        if (!decision.ok) {
          await ctx.refuse({ tenantId: decision.tenantId, targetId: decision.targetId, operatorId: person.operatorId, action: 'gateway.access_refused', reason: decision.refusal, user: person.user, address });
          tell(ch, REFUSAL_TEXT[decision.refusal]);
          return;
        }
        const options = await gatewayOptionsOf(deps.db, decision.access.grantId);
        // The setting is a floor for the whole server; a policy can ask for keystrokes on its own.
        const sessionDeps = { ...deps, recordInput: deps.recordInput || options.recordInput };
        live = await startSession(sessionDeps, ch, { kind, command, pty, operatorId: person.operatorId, clientAddress: address, access: decision.access }, ctx.forget);
        // A command that ended at once has already left (its row is closed).
        if (live && !live.ending) ctx.track(live, decision.access.expiresAt);
      })().catch((err: unknown) => {
        deps.log.error({ err }, 'starting a gateway session failed');
        tell(ch, 'the session could not be started');
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
    channel.on('shell', (ok) => begin('shell', null, ok()));
    channel.on('exec', (ok, _no, e) => begin('exec', e.command, ok()));
    channel.on('subsystem', (ok, no, s) => {
      const person = who;
      if (s.name !== 'sftp' || !person || started || !person.allowSftp) {
        refuseFeature(`subsystem:${s.name.slice(0, 40)}`);
        return no();
      }
      started = true;
      // Accepted at once: the client sends its first packet without waiting for the answer, and
      // data on a session channel not accepted yet is dropped. Checked again just after.
      const ch = ok();
      void (async () => {
        const access = await currentAccess(person);
        if (!access) return tell(ch, 'you hold no active grant on this target');
        if (!(await gatewayOptionsOf(deps.db, access.grantId)).allowSftp) {
          refuseFeature('subsystem:sftp');
          return tell(ch, 'SFTP is not allowed by the policy of your grant');
        }
        const sftp = await startSftpSession(deps, ch, { operatorId: person.operatorId, clientAddress: address, access }, ctx.forget);
        if (sftp && !sftp.ending) ctx.track(sftp, access.expiresAt);
      })().catch((err: unknown) => {
        deps.log.error({ err }, 'starting an sftp session failed');
        tell(ch, 'the SFTP session could not be started');
      });
    });
    channel.on('x11', (_ok, no) => {
      refuseFeature('x11_forwarding');
      no();
    });
    channel.on('auth-agent', (_ok, no) => {
      refuseFeature('agent_forwarding');
      no?.();
    });
  };

  /**
   * `ssh -J`: the channel's destination names a target (decided by the caller); the gateway is the
   * SSH server at its end.
   */
  const jumpTo = (person: Person, target: string, accept: () => ServerChannel) => {
    const stream = accept();
    // A server of its own per jump (never listening): its handler knows whose jump it is.
    const inner = new ssh2.Server({ hostKeys: [ctx.hostKey], ident: 'Timebox-Gateway' }, (c) =>
      handleConnection(ctx, c, { address, jump: { operatorId: person.operatorId, user: target } }),
    );
    inner.injectSocket(stream as unknown as Socket);
  };

  /** `ssh -L` under a policy that allows it: opened from the host (see forward-session.ts). */
  const forward = async (person: Who, info: TcpipRequestInfo, accept: () => ServerChannel, reject: () => void) => {
    const first = forwards === null;
    forwards ??= (async () => {
      const access = await currentAccess(person);
      if (!access) return null;
      if (!(await gatewayOptionsOf(deps.db, access.grantId)).allowPortForwarding) return null;
      const s = await startForwardSession(deps, { operatorId: person.operatorId, clientAddress: address, access }, ctx.forget);
      ctx.track(s.live, access.expiresAt);
      client.once('close', () => void s.live.end('client_closed'));
      return s;
    })();
    const s = await forwards;
    if (!s || s.live.ending) {
      refuseFeature(`port_forwarding:${info.destIP.slice(0, 100)}:${info.destPort}`);
      return reject();
    }
    // Each later forward asks again (refusals audited by currentAccess): a grant revoked or
    // sign-ins ended a moment ago open nothing more. The grant watch's next poll ends the session
    // itself, with the reason it reads.
    if (!first && (await currentAccess(person))?.grantId !== s.live.grantId) return reject();
    s.open(info, accept, reject);
  };

  client.on('ready', () => {
    client.on('session', (accept) => onSession(accept));
    client.on('tcpip', (accept, reject, info) => {
      const person = who ?? jumper;
      void (async () => {
        // A target's name at port 22 is a jump (not inside a jump: one hop); anything else a forward.
        if (person && !opts.jump && info.destPort === JUMP_PORT) {
          const decision = await decideAccess(deps, person.operatorId, info.destIP, deps.clock.now());
          if (decision.ok) return jumpTo(person, info.destIP, accept);
          if (decision.refusal !== 'no_such_target') {
            await ctx.refuse({ tenantId: decision.tenantId, targetId: decision.targetId, operatorId: person.operatorId, action: 'gateway.access_refused', reason: decision.refusal, user: info.destIP.slice(0, 200), address });
            return reject();
          }
        }
        if (who) return forward(who, info, accept, reject);
        refuseFeature(`port_forwarding:${info.destIP.slice(0, 100)}:${info.destPort}`);
        reject();
      })().catch((err: unknown) => {
        deps.log.error({ err }, 'a direct-tcpip request failed');
        reject();
      });
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
}
