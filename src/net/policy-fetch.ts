/**
 * A fetch for libraries that take one (openid-client's customFetch): the host goes through the
 * outbound policy (a literal address checked here, a name resolved, checked and pinned by the
 * lookup), redirects are never followed, and the answer is read up to a bound, so a server the
 * caller named cannot make this one reach inside its network or hold a huge body in memory.
 */
import http from 'node:http';
import https from 'node:https';
import { refuseDisallowedLiteral, type OutboundPolicy } from './outbound-policy.js';

export interface PolicyFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | URLSearchParams | Uint8Array | ArrayBuffer | ReadableStream | null;
  signal?: AbortSignal | null;
}

export class AnswerTooLarge extends Error {
  readonly code = 'EANSWERTOOLARGE';
  constructor(readonly origin: string, readonly maxBytes: number) {
    super(`${origin} answered with more than ${Math.round(maxBytes / 1024)} KiB`);
    this.name = 'AnswerTooLarge';
  }
}

export function policyFetch(policy: OutboundPolicy, opts: { maxBytes: number }) {
  return (input: string | URL, init: PolicyFetchInit = {}): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input);
      try {
        if (init.body instanceof ReadableStream) throw new Error('a streamed request body is not sent');
        if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${url.protocol} URLs are not fetched`);
        refuseDisallowedLiteral(policy, url.hostname.replace(/^\[(.*)\]$/, '$1'));
        init.signal?.throwIfAborted();
      } catch (err) {
        reject(err);
        return;
      }
      const body = bodyOf(init.body);
      const headers: Record<string, string> = { ...init.headers };
      if (init.body instanceof URLSearchParams && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
      }
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const request = url.protocol === 'https:' ? https.request : http.request;
      const req = request(url, { method: init.method ?? 'GET', headers, lookup: policy.lookup, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > opts.maxBytes) req.destroy(new AnswerTooLarge(url.origin, opts.maxBytes));
          else chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 502;
          const answer = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) answer.append(name, v);
          }
          const nullBody = status === 204 || status === 205 || status === 304;
          try {
            resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers: answer }));
          } catch (err) {
            reject(err); // a status Response cannot hold (below 200)
          }
        });
      });
      const abort = () => req.destroy(init.signal?.reason instanceof Error ? init.signal.reason : new Error('aborted'));
      init.signal?.addEventListener('abort', abort, { once: true });
      req.on('error', reject);
      req.on('close', () => init.signal?.removeEventListener('abort', abort));
      req.end(body);
    });
}

function bodyOf(b: PolicyFetchInit['body']): string | Buffer | undefined {
  if (b == null || b instanceof ReadableStream) return undefined;
  if (typeof b === 'string') return b;
  if (b instanceof URLSearchParams) return b.toString();
  return b instanceof ArrayBuffer ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
