/**
 * The HTTP client of the CLI: Node's fetch, a bearer token, and the server's error shape
 * (`{ error: { code, message } }`) turned into a CliError with the matching exit code.
 * Calls go through the contract's typed client (`apiOf`); the token never appears in any message.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { createApiClient, type ApiClient } from '../api/client.js';
import { CliError, ExitCode, exitCodeForStatus, type ExitCodeValue } from './exit-codes.js';

export interface Conn {
  server: string;
  /** Absent only for sign-in. */
  token?: string;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

const TIMEOUT_MS = 120_000;

function urlOf(conn: Conn, path: string, query?: Query): string {
  const url = new URL(conn.server + path);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
  }
  return url.toString();
}

const networkWords: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
  // https:// to a server that speaks plain HTTP.
  ERR_SSL_WRONG_VERSION_NUMBER: 'it does not speak TLS there; use http:// for this address',
};

function networkError(conn: Conn, err: unknown): CliError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return new CliError(`no answer from ${conn.server} within ${TIMEOUT_MS / 1000} s`, ExitCode.unreachable);
  const code = e.cause?.code;
  const why = (code && networkWords[code]) ?? e.cause?.message ?? e.message;
  return new CliError(`cannot reach the server at ${conn.server}: ${why}`, ExitCode.unreachable);
}

/** An error answer of the server; `details` for the few commands that act on them (login's MFA step). */
export class ApiError extends CliError {
  constructor(
    message: string,
    exitCode: ExitCodeValue,
    readonly details: unknown,
    /** The error's code (`target_check_failed`, …): what a command may act on, never the words. */
    readonly code: string | null = null,
  ) {
    super(message, exitCode);
  }
}

async function errorFrom(conn: Conn, res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let message = `the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  let details: unknown;
  let code: string | null = null;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (typeof body.error?.message === 'string') message = body.error.message;
    if (body.error?.code === 'password_change_required') message = 'you must change the password you were given before anything else: run timebox password change';
    details = body.error?.details;
    if (typeof body.error?.code === 'string') code = body.error.code;
  } catch {
    // not our error shape (a proxy's page, say): keep the status line
  }
  // A refused authenticator code is a 401 too, but signing in again would not help.
  const mfa = (details as { mfa?: unknown } | undefined)?.mfa !== undefined;
  if (res.status === 401 && conn.token && !mfa) message += '; run timebox login to sign in again';
  return new ApiError(message, exitCodeForStatus(res.status), details, code);
}

async function send(conn: Conn, method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'timebox-cli' };
  if (conn.token) headers.authorization = `Bearer ${conn.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(urlOf(conn, path, opts.query), {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw networkError(conn, err);
  }
  if (!res.ok) throw await errorFrom(conn, res);
  return res;
}

async function json(conn: Conn, res: Response): Promise<unknown> {
  const text = await res.text().catch((err: unknown) => {
    throw networkError(conn, err);
  });
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`the server at ${conn.server} did not answer with JSON; is it a Timebox server?`);
  }
}

/** A body that is not JSON (a recording), as bytes. */
export async function apiGetBytes(conn: Conn, path: string): Promise<{ body: Buffer; headers: Headers }> {
  const res = await send(conn, 'GET', path);
  const body = Buffer.from(
    await res.arrayBuffer().catch((err: unknown) => {
      throw networkError(conn, err);
    }),
  );
  return { body, headers: res.headers };
}

/**
 * Answers are checked against the contract unless NODE_ENV is production (TIMEBOX_CHECK_RESPONSES=1
 * forces it): a server and a CLI that drifted apart fail loudly, naming the field.
 */
const checkResponses = process.env.NODE_ENV !== 'production' || process.env.TIMEBOX_CHECK_RESPONSES === '1';

/** The typed client of the contract (src/api) over this connection: `api.call('getGrant', { params })`. */
export function apiOf(conn: Conn): ApiClient {
  return createApiClient({
    checkResponses,
    transport: async (r) => {
      const res = await send(conn, r.method, r.path, { query: r.query as Query | undefined, body: r.body });
      return { status: res.status, body: await json(conn, res) };
    },
  });
}

/** Copies a streamed body (JSON lines) to `out` without holding it in memory; returns its lines. */
export async function apiStream(conn: Conn, path: string, query: Query, out: Writable): Promise<number> {
  const res = await send(conn, 'GET', path, { query });
  let lines = 0;
  try {
    for await (const chunk of res.body ?? []) {
      const buf = Buffer.from(chunk as Uint8Array);
      for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) lines++;
      if (!out.write(buf)) await once(out, 'drain');
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`the download from ${conn.server} broke off: ${(err as Error).message}`, ExitCode.unreachable);
  }
  return lines;
}

/**
 * Opens a server-sent event stream (no overall timeout: it stays open while the caller listens);
 * `signal` ends it. Errors answer like every other call.
 */
export async function apiEventStream(conn: Conn, path: string, signal: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { accept: 'text/event-stream', 'user-agent': 'timebox-cli' };
  if (conn.token) headers.authorization = `Bearer ${conn.token}`;
  let res: Response;
  try {
    res = await fetch(urlOf(conn, path), { headers, signal });
  } catch (err) {
    throw networkError(conn, err);
  }
  if (!res.ok) throw await errorFrom(conn, res);
  return res;
}
