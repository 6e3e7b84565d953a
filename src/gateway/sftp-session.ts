/**
 * SFTP through the gateway, when the grant's policy allows it: the person's sftp subsystem is
 * relayed to the host's, logged in as the grant's account; each file opened is logged by name,
 * direction and size (a recording line and a `gateway.sftp_transfer` audit event).
 */
import type { Client, ClientChannel, ServerChannel } from 'ssh2';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import type { GatewayAccess } from './gateway-access.js';
import { connectHost, type LiveSession } from './gateway-session.js';
import { openRelaySession, type RelayDeps } from './relay-session.js';
import { packetReader, sftpTransferLog, type FileTransfer, type SftpOperation } from './sftp-transfers.js';

export interface SftpDeps extends RelayDeps {
  outbound: OutboundPolicy;
}

function hostSftp(host: Client): Promise<ClientChannel> {
  return new Promise((resolve, reject) => host.subsys('sftp', (err, ch) => (err ? reject(err) : resolve(ch))));
}

/**
 * Relays an sftp subsystem on the person's channel, accepted already (what the client sent
 * meanwhile waits in it). Resolves with the live session, or null (the person was told why).
 */
export async function startSftpSession(
  deps: SftpDeps,
  ch: ServerChannel,
  r: { operatorId: string; clientAddress: string | null; access: GatewayAccess },
  onEnded: (id: string) => void,
): Promise<LiveSession | null> {
  let host: Client;
  let remote: ClientChannel;
  try {
    host = await connectHost(deps, r.access);
    remote = await hostSftp(host).catch((err: unknown) => {
      host.end();
      throw err;
    });
  } catch (err) {
    deps.log.warn({ err, targetId: r.access.targetId, grantId: r.access.grantId }, 'gateway could not open sftp on the host');
    try {
      ch.stderr.write(`timebox gateway: could not open SFTP on ${r.access.targetName} as ${r.access.account}\r\n`);
      ch.exit(1);
      ch.close();
    } catch {
      // the person's side is already gone
    }
    return null;
  }
  const relay = await openRelaySession(
    deps,
    { kind: 'sftp', command: 'sftp', ...r },
    () => {
      // Files still open when the session ends are logged as they stand.
      for (const t of transfers.drain()) logFile(t);
      ch.close();
      remote.close();
      host.end();
    },
    onEnded,
  );
  const logFile = (t: FileTransfer) => {
    relay.line(`sftp ${t.direction} ${JSON.stringify(t.path)} read ${t.bytesRead} bytes, written ${t.bytesWritten} bytes`);
    void relay.audit('gateway.sftp_transfer', { path: t.path.slice(0, 4096), direction: t.direction, bytesRead: t.bytesRead, bytesWritten: t.bytesWritten });
  };
  // Renames, removals, links and attribute changes: what a file is, or where, changes without a transfer.
  const logOperation = (o: SftpOperation) => {
    relay.line(`sftp ${o.op} ${o.paths.map((p) => JSON.stringify(p)).join(' -> ')}`);
    void relay.audit('gateway.sftp_operation', { operation: o.op, paths: o.paths.map((p) => p.slice(0, 4096)) });
  };
  const transfers = sftpTransferLog(logFile, logOperation);
  // A client whose requests cannot be told apart cannot have its transfers logged: it is stopped
  // before the packet reaches the host, said in the recording and the audit.
  let refused: string | null = null;
  const fromClient = packetReader((head) => {
    const why = refused ? null : transfers.fromClient(head);
    if (!why) return;
    refused = why;
    relay.line(`sftp refused: ${why}`);
    void relay.audit('gateway.sftp_refused', { reason: why });
    void relay.live.end('error', `SFTP stopped: ${why}`);
  });
  const fromHost = packetReader((head) => transfers.fromHost(head));
  // Backpressure both ways, as for shells.
  remote.on('data', (d: Buffer) => {
    fromHost(d);
    if (!ch.write(d)) {
      remote.pause();
      ch.once('drain', () => remote.resume());
    }
  });
  ch.on('data', (d: Buffer) => {
    fromClient(d);
    if (refused) return;
    if (!remote.write(d)) {
      ch.pause();
      remote.once('drain', () => ch.resume());
    }
  });
  const finish = (reason: 'client_closed' | 'host_closed') => void relay.live.end(reason);
  // ssh2 channels end their readable side on the peer's EOF (they emit no 'eof').
  ch.on('end', () => remote.end());
  // The client's ssh exits with the server's status (sftp reports a failure without one).
  remote.on('exit', (code: number | null, signal?: string) => {
    try {
      if (code !== null) ch.exit(code);
      else ch.exit(signal ?? 'KILL');
    } catch {
      // the person's side is already gone
    }
  });
  ch.on('close', () => finish('client_closed'));
  remote.on('close', () => finish('host_closed'));
  host.on('error', (err) => deps.log.warn({ err, sessionId: relay.id }, 'gateway lost the host connection'));
  host.on('close', () => finish('host_closed'));
  // The person may have left while the host was being reached.
  if (ch.destroyed || !ch.writable) finish('client_closed');
  return relay.live;
}
