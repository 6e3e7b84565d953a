/**
 * One recorded session: the person's channel on one side, the host's on the other, every byte
 * of output (and input, when asked) into the recording on its way through. The gateway logs in
 * to the host as the grant's account with the grant's password or a certificate issued for the
 * session (host-login.ts); the host key must be the one an admin pinned for the target.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import ssh2, { type Client, type ClientChannel, type ServerChannel } from 'ssh2';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import { createAsciicastRecorder, type Recorder } from './asciicast-recorder.js';
import type { GatewayAccess } from './gateway-access.js';
import { createGrantCertificates } from './grant-certificates.js';
import { hostLogin } from './host-login.js';
import { sessionOf, closeSessionRow, openSessionRow, type EndReason, type SessionsDeps } from './gateway-sessions.js';
import type { LiveFeed } from './live-feed.js';
import { observeSession } from './session-observers.js';

export interface Pty {
  term: string;
  cols: number;
  rows: number;
  width: number;
  height: number;
}

export interface SessionRequest {
  kind: 'shell' | 'exec';
  command: string | null;
  pty: Pty | null;
  operatorId: string;
  clientAddress: string | null;
  access: GatewayAccess;
}

export interface LiveSession {
  id: string;
  grantId: string;
  /** Writes a notice on the person's terminal (and into the recording: they saw it). */
  notice(text: string): void;
  resize(p: Pick<Pty, 'cols' | 'rows' | 'width' | 'height'>): void;
  signal(name: string): void;
  /** True once `end` was called. */
  readonly ending: boolean;
  /** Ends the session (once); resolves when the recording is closed and the row written. */
  end(reason: EndReason, notice?: string): Promise<void>;
}

export interface SessionDeps extends SessionsDeps {
  log: Logger;
  outbound: OutboundPolicy;
  gatewayId: string;
  recordInput: boolean;
  flushMs: number;
  /** Where watched sessions' output is published for the live view (none: no live view). */
  liveFeed?: LiveFeed;
}

const LOGIN_TIMEOUT_MS = 15_000;

/**
 * The host's SSH session, logged in with the grant's own credential. `forwarding`: the connection
 * carries port forwards (its certificate permits them, not a terminal).
 */
export function connectHost(deps: Pick<SessionDeps, 'outbound' | 'db' | 'secrets' | 'clock' | 'audit'>, access: GatewayAccess, opts: { forwarding?: boolean } = {}): Promise<Client> {
  const expected = Buffer.from(access.destination.host_key.split(' ')[1] ?? '', 'base64');
  return deps.outbound
    .resolve(access.destination.host)
    // The certificate (if any) is issued only once the address passed the outbound policy.
    .then(async (pinned) => ({ pinned, login: await hostLogin(createGrantCertificates(deps), access.account, access.credential, opts) }))
    .then(
    ({ pinned, login }) =>
      new Promise<Client>((resolve, reject) => {
        const host = new ssh2.Client();
        // The handshake has its own timeout; this bounds the login after it (PAM may stall).
        const timer = setTimeout(() => {
          host.end();
          reject(new Error(`the host did not let the gateway in within ${LOGIN_TIMEOUT_MS} ms`));
        }, LOGIN_TIMEOUT_MS);
        host.once('ready', () => {
          clearTimeout(timer);
          resolve(host);
        });
        host.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        host.connect({
          host: pinned.address,
          port: access.destination.port,
          username: access.account,
          ...login.options,
          readyTimeout: 10_000,
          keepaliveInterval: 15_000,
          hostVerifier: (key: Buffer) => key.equals(expected),
        });
        try {
          login.attach(host);
        } catch (err) {
          clearTimeout(timer);
          host.end();
          reject(err as Error);
        }
      }),
  );
}

/** How long a finished session's last output may take to reach a person who reads slowly. */
const DELIVER_REST_MS = 5_000;

/**
 * Resolves once the host's output has all been read and handed to the person's channel's window
 * (a zero-length write calls back after every earlier write went out), or after `ms`.
 */
function deliverRest(hostChannel: ClientChannel, channel: ServerChannel, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const flush = () => (channel.writable ? channel.write(Buffer.alloc(0), () => done()) : done());
    if (hostChannel.readableEnded) flush();
    else hostChannel.once('end', flush);
  });
}

function openChannel(host: Client, r: SessionRequest): Promise<ClientChannel> {
  const pty = r.pty ? { term: r.pty.term, cols: r.pty.cols, rows: r.pty.rows, width: r.pty.width, height: r.pty.height } : undefined;
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch));
    if (r.kind === 'shell') host.shell(pty ?? false, done);
    else host.exec(r.command ?? '', pty ? { pty } : {}, done);
  });
}

/**
 * Starts the session on an accepted client channel. Resolves with the live session once the host
 * answered and the recording runs, or null (the person was told why on stderr).
 */
export async function startSession(deps: SessionDeps, channel: ServerChannel, r: SessionRequest, onEnded: (id: string) => void): Promise<LiveSession | null> {
  let host: Client;
  let hostChannel: ClientChannel;
  // Events that may come while the session row is written: kept, not lost.
  let exit: { code: number } | { signal: string } | null = null;
  let hostClosed = false;
  try {
    deps.log.debug({ grantId: r.access.grantId, host: r.access.destination.host, port: r.access.destination.port }, 'connecting to the host');
    host = await connectHost(deps, r.access);
    deps.log.debug({ grantId: r.access.grantId }, 'logged in to the host');
    hostChannel = await openChannel(host, r).catch((err: unknown) => {
      host.end();
      throw err;
    });
    hostChannel.on('exit', (code: number | null, signal?: string) => {
      exit = code !== null ? { code } : { signal: signal ?? 'KILL' };
    });
    // The channel's own close waits until its output is read; the connection's does not.
    host.once('close', () => (hostClosed = true));
  } catch (err) {
    deps.log.warn({ err, targetId: r.access.targetId, grantId: r.access.grantId }, 'gateway could not open the session on the host');
    channel.stderr.write(`timebox gateway: could not open a session on ${r.access.targetName} as ${r.access.account}\r\n`);
    channel.exit(1);
    channel.close();
    return null;
  }

  const id = randomUUID();
  const key = await openSessionRow(deps, sessionOf(id, deps.gatewayId, r));
  const recorder: Recorder = createAsciicastRecorder({
    sessionId: id,
    key,
    sink: await deps.recordings.create(id),
    header: {
      // A client that told no size (0) gets the usual one: players cannot show 0 columns.
      width: r.pty?.cols || 80,
      height: r.pty?.rows || 24,
      timestamp: Math.floor(deps.clock.now().getTime() / 1000),
      title: `${r.access.account}@${r.access.targetName}`,
      ...(r.pty ? { env: { TERM: r.pty.term } } : {}),
      ...(r.command !== null ? { command: r.command } : {}),
    },
    recordInput: deps.recordInput,
    flushMs: deps.flushMs,
    onError: (err) => deps.log.error({ err, sessionId: id }, 'writing the session recording failed'),
    onEvent: (seq, line) => observers.onEvent(seq, line),
  });
  const observers = observeSession(deps, {
    id,
    tenantId: r.access.tenantId,
    trackCommands: r.kind === 'shell' && r.pty !== null,
    elapsedMs: () => recorder.elapsedMs(),
    flushNow: () => recorder.flushNow(),
  });

  let ended: Promise<void> | null = null;
  const toClient = (data: Buffer, stderr: boolean): boolean => {
    recorder.output(data);
    observers.output(data);
    return stderr ? channel.stderr.write(data) : channel.write(data);
  };

  // Backpressure both ways: a slow reader, or a recording the disk has not taken yet, pauses the
  // other side instead of filling memory.
  hostChannel.on('data', (d: Buffer) => {
    const clientReady = toClient(d, false);
    const recorderReady = !recorder.behind();
    if (clientReady && recorderReady) return;
    hostChannel.pause();
    const client = clientReady ? null : new Promise<void>((resolve) => channel.once('drain', () => resolve()));
    void Promise.all([client, recorderReady ? null : recorder.drained()]).then(() => hostChannel.resume());
  });
  hostChannel.stderr.on('data', (d: Buffer) => toClient(d, true));
  channel.on('data', (d: Buffer) => {
    recorder.input(d);
    observers.input(d);
    if (!hostChannel.write(d)) {
      channel.pause();
      hostChannel.once('drain', () => channel.resume());
    }
  });
  // The person's EOF (stdin closed) to the host; ssh2 channels signal it by 'end', not 'eof'.
  channel.on('end', () => hostChannel.end());
  hostChannel.on('close', () => void live.end('host_closed'));
  channel.on('close', () => void live.end('client_closed'));
  host.on('error', (err) => deps.log.warn({ err, sessionId: id }, 'gateway lost the host connection'));
  host.on('close', () => void live.end('host_closed'));

  const live: LiveSession = {
    id,
    grantId: r.access.grantId,
    get ending() {
      return ended !== null;
    },
    notice(text) {
      toClient(Buffer.from(`\r\n[timebox] ${text}\r\n`, 'utf8'), r.pty === null);
    },
    resize(p) {
      hostChannel.setWindow(p.rows, p.cols, p.height, p.width);
      recorder.resize(p.cols, p.rows);
    },
    signal(name) {
      hostChannel.signal(name);
    },
    end(reason, notice) {
      ended ??= (async () => {
        if (notice) live.notice(notice);
        if (reason === 'host_closed' && !exit) {
          // The host's exit status may trail its close by a moment; the person's ssh needs it.
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 500);
            hostChannel.once('exit', () => {
              clearTimeout(t);
              setImmediate(resolve);
            });
          });
        }
        // Closing the channel drops what still waits for the person's window: deliver it first.
        if (reason === 'host_closed') await deliverRest(hostChannel, channel, DELIVER_REST_MS);
        const e = exit as { code: number } | { signal: string } | null;
        deps.log.debug({ sessionId: id, reason, exit: e }, 'ending the session');
        try {
          if (reason === 'host_closed' && e) {
            if ('code' in e) channel.exit(e.code);
            else channel.exit(e.signal);
          } else if (reason !== 'client_closed') {
            channel.exit(255);
          }
          channel.close();
        } catch {
          // the person's side is already gone
        }
        hostChannel.close();
        host.end();
        const summary = await recorder.close();
        await closeSessionRow(deps, id, { reason, sha256: summary.sha256, bytes: summary.bytes, complete: true });
        await observers.finish(await recorder.flushNow());
        onEnded(id);
      })().catch((err: unknown) => deps.log.error({ err, sessionId: id }, 'closing a gateway session failed'));
      return ended;
    },
  };
  if (hostClosed) void live.end('host_closed');
  return live;
}
