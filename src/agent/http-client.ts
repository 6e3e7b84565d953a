/**
 * The agent's only way to the server: outbound HTTPS requests (plain HTTP to a loopback address
 * only, for a server on the same host and for tests), each signed with the agent's key. node:http
 * and node:https directly, so a private CA can be given without extra dependencies. Responses are
 * bounded in size and time; nothing here logs bodies (desired states can carry passwords).
 */
import http from 'node:http';
import https from 'node:https';
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { signRequest } from '../agent-wire/signing.js';

export interface HttpResult {
  status: number;
  text: string;
  /** The body as received (binary answers such as a KRL). */
  bytes: Buffer;
  headers: http.IncomingHttpHeaders;
}

export class AgentHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AgentHttpError';
  }
}

const MAX_RESPONSE_BYTES = 32 << 20;

const isLoopback = (host: string) => {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
};

/** Checks a server URL: https, or http to a loopback address; no credentials, query or fragment. */
export function parseServerUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`server URL ${JSON.stringify(raw.slice(0, 200))} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('the server URL must start with https://');
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new Error('the server URL must use https:// (desired states carry passwords); plain http is only allowed to a loopback address');
  }
  if (url.username || url.password || url.search || url.hash) throw new Error('the server URL must not carry credentials, a query or a fragment');
  return url;
}

export interface RequestOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  caPem?: string;
}

/** One request; resolves with any status (the caller decides), rejects on transport errors. */
export function httpRequest(url: URL, method: string, headers: Record<string, string>, body: string | undefined, opts: RequestOptions): Promise<HttpResult> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise<HttpResult>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    const req = lib.request(
      url,
      {
        method,
        headers: { accept: 'application/json', ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
        signal: opts.signal,
        ...(url.protocol === 'https:' ? { ca: opts.caPem, minVersion: 'TLSv1.2' as const, rejectUnauthorized: true } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new Error(`response from the server is larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const bytes = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, text: bytes.toString('utf8'), bytes, headers: res.headers });
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer from ${url.host} within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err) => fail(opts.signal?.aborted ? new Error('aborted') : err));
    req.end(body);
  });
}

/** The server's `{ error: { message } }`, or the status line, for logs and exceptions. */
export function errorMessage(r: HttpResult): string {
  try {
    const m = (JSON.parse(r.text) as { error?: { message?: unknown } }).error?.message;
    if (typeof m === 'string') return m.slice(0, 500);
  } catch {
    // not JSON
  }
  return `HTTP ${r.status}`;
}

export interface AgentClientOptions {
  server: URL;
  agentId: string;
  key: KeyObject;
  caPem?: string;
}

/** Signed calls as the enrolled agent. */
export class AgentClient {
  constructor(private readonly opts: AgentClientOptions) {}

  get agentId(): string {
    return this.opts.agentId;
  }

  async call(method: 'GET' | 'POST', pathAndQuery: string, payload: unknown, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<HttpResult> {
    const url = new URL(this.opts.server.pathname.replace(/\/+$/, '') + pathAndQuery, this.opts.server.origin);
    const body = payload === undefined ? undefined : JSON.stringify(payload);
    const signed = signRequest(this.opts.key, { agentId: this.opts.agentId, method, path: url.pathname + url.search, body: body ?? '' });
    const headers = { ...signed, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
    return httpRequest(url, method, headers, body, { ...opts, caPem: this.opts.caPem });
  }

  /** A call that must answer 2xx; anything else throws AgentHttpError with the server's message. */
  async mustCall(method: 'GET' | 'POST', pathAndQuery: string, payload: unknown, opts: { signal?: AbortSignal; timeoutMs: number }): Promise<HttpResult> {
    const r = await this.call(method, pathAndQuery, payload, opts);
    if (r.status < 200 || r.status > 299) throw new AgentHttpError(r.status, `${method} ${pathAndQuery.split('?')[0]}: ${r.status} ${errorMessage(r)}`);
    return r;
  }
}
