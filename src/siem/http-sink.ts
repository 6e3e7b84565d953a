/**
 * HTTP collectors: one POST per batch, delivered when the collector answers 2xx. Redirects are not
 * followed; the host goes through the outbound policy (resolved, checked, pinned) like webhooks.
 */
import http from 'node:http';
import https from 'node:https';
import { deliveryFailure } from './delivery-failure.js';
import { refuseDisallowedLiteral, type OutboundPolicy } from '../net/outbound-policy.js';
import type { ExportedEvent } from './exported-event.js';
import { httpAuthorization, httpBatchBody, type HttpFormat } from './http-batch.js';
import type { SiemSink } from './siem-streamer.js';

export interface HttpSinkOptions {
  url: URL;
  format: HttpFormat;
  token?: string;
  ca?: string;
  policy: OutboundPolicy;
  timeoutMs?: number;
}

export function httpSink(opts: HttpSinkOptions): SiemSink {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const auth = httpAuthorization(opts.format, opts.token);
  return {
    name: 'http',
    describe: `http ${opts.url.origin} (${opts.format})`,
    send(events: readonly ExportedEvent[]): Promise<void> {
      const body = httpBatchBody(opts.format, events);
      return new Promise<void>((resolve, reject) => {
        try {
          refuseDisallowedLiteral(opts.policy, opts.url.hostname.replace(/^\[(.*)\]$/, '$1'));
        } catch (err) {
          reject(deliveryFailure('collector unreachable', err));
          return;
        }
        const request = opts.url.protocol === 'https:' ? https.request : http.request;
        const req = request(
          opts.url,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'content-length': String(Buffer.byteLength(body)),
              ...(auth ? { authorization: auth } : {}),
            },
            lookup: opts.policy.lookup,
            agent: false,
            ...(opts.ca ? { ca: opts.ca } : {}),
          },
          (res) => {
            res.resume();
            const status = res.statusCode ?? 0;
            res.on('end', () => (status >= 200 && status < 300 ? resolve() : reject(new Error(`collector answered HTTP ${status}`))));
            res.on('error', (err) => reject(deliveryFailure('collector answer broke off', err)));
          },
        );
        const timer = setTimeout(() => req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })), timeoutMs);
        req.on('error', (err) => reject(deliveryFailure('collector unreachable', err)));
        req.on('close', () => clearTimeout(timer));
        req.end(body);
      });
    },
  };
}
