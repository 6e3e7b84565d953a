/**
 * Port forwarding (`ssh -L`) through the gateway, when the grant's policy allows it. The forward
 * is opened FROM the host: the gateway asks the host's sshd for a direct-tcpip channel, so the
 * destination is whatever the host reaches (its own services on localhost, its network), never
 * the gateway's. All forwards of one connection share one host login and one session row;
 * each is a recording line and a `gateway.port_forward_opened` audit event, its byte counts a line
 * when it closes. They end with the grant like any session.
 */
import type { Client, ClientChannel, ServerChannel } from 'ssh2';
import type { OutboundPolicy } from '../net/outbound-policy.js';
import type { GatewayAccess } from './gateway-access.js';
import { connectHost, type LiveSession } from './gateway-session.js';
import { openRelaySession, type RelayDeps } from './relay-session.js';

export interface ForwardDeps extends RelayDeps {
  outbound: OutboundPolicy;
}

export interface Forward {
  destIP: string;
  destPort: number;
  srcIP: string;
  srcPort: number;
}

export interface ForwardSession {
  live: LiveSession;
  /** Opens one forward from the host; `accept` answers the person's channel once the host's is open. */
  open(f: Forward, accept: () => ServerChannel, reject: () => void): void;
}

export async function startForwardSession(
  deps: ForwardDeps,
  r: { operatorId: string; clientAddress: string | null; access: GatewayAccess },
  onEnded: (id: string) => void,
): Promise<ForwardSession> {
  const host: Client = await connectHost(deps, r.access, { forwarding: true });
  const channels = new Set<ServerChannel | ClientChannel>();
  const relay = await openRelaySession(
    deps,
    { kind: 'forward', command: 'port forwarding', ...r },
    () => {
      for (const c of channels) c.close();
      host.end();
    },
    onEnded,
  );
  host.on('error', (err) => deps.log.warn({ err, sessionId: relay.id }, 'gateway lost the host connection'));
  host.on('close', () => void relay.live.end('host_closed'));

  return {
    live: relay.live,
    open(f, accept, reject) {
      const dest = `${f.destIP}:${f.destPort}`;
      if (relay.live.ending) return reject();
      host.forwardOut(f.srcIP, f.srcPort, f.destIP, f.destPort, (err, remote) => {
        if (err || relay.live.ending) {
          relay.line(`forward to ${dest} refused by the host: ${err?.message ?? 'session ending'}`);
          remote?.close();
          return reject();
        }
        const ch = accept();
        channels.add(ch);
        channels.add(remote);
        relay.line(`forward to ${dest} opened`);
        void relay.audit('gateway.port_forward_opened', { destination: dest.slice(0, 300) });
        let toHost = 0;
        let fromHost = 0;
        remote.on('data', (d: Buffer) => {
          fromHost += d.length;
          if (!ch.write(d)) {
            remote.pause();
            ch.once('drain', () => remote.resume());
          }
        });
        ch.on('data', (d: Buffer) => {
          toHost += d.length;
          if (!remote.write(d)) {
            ch.pause();
            remote.once('drain', () => ch.resume());
          }
        });
        // ssh2 channels end their readable side on the peer's EOF (they emit no 'eof').
        ch.on('end', () => remote.end());
        remote.on('end', () => ch.end());
        let closed = false;
        const close = () => {
          if (closed) return;
          closed = true;
          channels.delete(ch);
          channels.delete(remote);
          ch.close();
          remote.close();
          if (!relay.live.ending) relay.line(`forward to ${dest} closed: ${toHost} bytes sent, ${fromHost} bytes received`);
        };
        ch.on('close', close);
        remote.on('close', close);
      });
    },
  };
}
