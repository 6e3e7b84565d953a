/**
 * Syslog over TLS (RFC 5425 transport, RFC 5424 messages, RFC 6587 octet counting). Each batch
 * goes over its own connection that both sides close: the collector closing its side after our
 * close means it read every byte before it, so a batch counts as delivered only then (plain TCP
 * syslog has no acknowledgement; a write that "succeeded" into a dying connection proves nothing).
 */
import tls from 'node:tls';
import { deliveryFailure } from './delivery-failure.js';
import { refuseDisallowedLiteral, type OutboundPolicy } from '../net/outbound-policy.js';
import type { ExportedEvent } from './exported-event.js';
import type { SiemSink } from './siem-streamer.js';
import { syslogFrames } from './syslog-frame.js';

export interface SyslogSinkOptions {
  host: string;
  port: number;
  /** PEM of the CA(s) that issued the collector's certificate; the system's when absent. */
  ca?: string;
  hostname: string;
  policy: OutboundPolicy;
  timeoutMs?: number;
}

export function syslogSink(opts: SyslogSinkOptions): SiemSink {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return {
    name: 'syslog',
    describe: `syslog tls://${opts.host}:${opts.port}`,
    // A clean close means rsyslog read the batch; stopped just then, it may not have kept it.
    acceptanceMayBeLost: true,
    send(events: readonly ExportedEvent[]): Promise<void> {
      const payload = syslogFrames(events, opts.hostname);
      return new Promise<void>((resolve, reject) => {
        try {
          refuseDisallowedLiteral(opts.policy, opts.host);
        } catch (err) {
          reject(deliveryFailure('syslog delivery failed', err));
          return;
        }
        let peerEnded = false;
        let failed: Error | null = null;
        const socket = tls.connect({
          host: opts.host,
          port: opts.port,
          ...(opts.ca ? { ca: opts.ca } : {}),
          // SNI only for names; the certificate is checked against the host either way.
          ...(/^[\d.]+$|:/.test(opts.host) ? {} : { servername: opts.host }),
          lookup: opts.policy.lookup,
        });
        const timer = setTimeout(() => socket.destroy(Object.assign(new Error('syslog collector did not answer in time'), { code: 'ETIMEDOUT' })), timeoutMs);
        socket.once('secureConnect', () => {
          socket.end(payload);
        });
        socket.on('end', () => {
          peerEnded = true;
        });
        socket.on('error', (err) => {
          failed = err;
        });
        socket.on('close', () => {
          clearTimeout(timer);
          if (failed) reject(deliveryFailure('syslog delivery failed', failed));
          else if (!peerEnded) reject(new Error('syslog collector closed the connection abruptly'));
          else resolve();
        });
      });
    },
  };
}
