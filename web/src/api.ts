/**
 * The dashboard's transport for the contract's typed client (src/api/client.ts): `call('getGrant',
 * { params: { tenant, grantId } })` answers a typed grant, parsed with the contract's schema in
 * development and in the browser tests' build. The session lives in the HttpOnly cookie the login sets; the
 * CSRF token is sent on every unsafe request. The login also sets it as the readable
 * `timebox_csrf` cookie, which every tab of this origin can read (a new tab stays signed in), and
 * this tab keeps the login response's copy in sessionStorage as a fallback. A 401 anywhere but
 * the login means the session ended: the app is told.
 */

import { createApiClient, type ApiClient, type CallArgs, type ItemOf } from '../../src/api/client.js';

export interface Issue {
  path: string;
  message: string;
}

/** An error the server explained (`{ error: { code, message, details } }`), or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: Issue[] = [],
    readonly details: unknown = undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const CSRF_KEY = 'timebox.csrf';
const EXPIRES_KEY = 'timebox.sessionExpiresAt';

let sessionEnded: (() => void) | null = null;

/** Called once by the app: what to do when the server says the session is gone. */
export function onSessionEnded(fn: () => void): void {
  sessionEnded = fn;
}

/** For other channels (the event stream) that learn the session ended. */
export const notifySessionEnded = (): void => sessionEnded?.();

const CSRF_COOKIE = 'timebox_csrf';
/** Its name over HTTPS: only this host can set it (src/http/auth-hook.ts cookieName). */
const HOST_CSRF_COOKIE = `__Host-${CSRF_COOKIE}`;

function cookieValue(name: string): string | null {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value) || null;
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Over HTTPS only the __Host- cookie: a plain one may have been planted by a sibling host. */
const csrfCookie = (): string | null =>
  cookieValue(HOST_CSRF_COOKIE) ?? (location.protocol === 'https:' ? null : cookieValue(CSRF_COOKIE));

export const session = {
  /**
   * The cookie first: it is set and cleared with the session cookie itself, so after a sign-in in
   * another tab it holds the current session's token while this tab's stored copy is stale.
   */
  csrf: (): string | null => csrfCookie() ?? sessionStorage.getItem(CSRF_KEY),
  expiresAt: (): string | null => sessionStorage.getItem(EXPIRES_KEY),
  save(csrf: string, expiresAt: string) {
    sessionStorage.setItem(CSRF_KEY, csrf);
    sessionStorage.setItem(EXPIRES_KEY, expiresAt);
  },
  clear() {
    sessionStorage.removeItem(CSRF_KEY);
    sessionStorage.removeItem(EXPIRES_KEY);
  },
  /** A tab that did not sign in learns when the shared session ends from GET /api/v1/me. */
  noteExpiry(expiresAt: string | null) {
    if (expiresAt) sessionStorage.setItem(EXPIRES_KEY, expiresAt);
  },
  /** After signing out: the server clears the cookie too, unless the session was already gone. */
  forgetCookie() {
    document.cookie = `${CSRF_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0`;
    if (location.protocol === 'https:') document.cookie = `${HOST_CSRF_COOKIE}=; Path=/; Secure; SameSite=Strict; Max-Age=0`;
  },
};

function toIssues(details: unknown): Issue[] {
  const list = (details as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(list)) return [];
  return list.filter((i): i is Issue => typeof i?.path === 'string' && typeof i?.message === 'string');
}

async function request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const csrf = session.csrf();
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the connection and try again.');
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
    const err = new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `The request failed (${res.status}).`, toIssues(e?.details), e?.details);
    // A 401 that asks for an authenticator code is a question to the person, not the session ending.
    if (res.status === 401 && path !== '/api/v1/auth/login' && !mfaOf(err)) sessionEnded?.();
    throw err;
  }
  return { status: res.status, body: parsed ?? undefined };
}

const client = createApiClient({
  // Development, and the browser tests' build: a drifted answer fails loudly (ContractDriftError).
  checkResponses: import.meta.env.DEV || import.meta.env.VITE_TIMEBOX_CHECK_RESPONSES === '1',
  transport: (r) => request(r.method, r.path + query(r.query ?? {}), r.body),
});

/** One call of the API by its key in the contract; the answer is typed by the contract's schema. */
export const call: ApiClient['call'] = client.call;

/** Every item of a paged endpoint, up to `max`. */
export async function allPages<K extends Parameters<ApiClient['pages']>[0]>(key: K, args: CallArgs<K>, max = 10_000): Promise<ItemOf<K>[]> {
  return (await client.pages(key, args, max)).items;
}

/**
 * `required` or `invalid` when the server wants (another) code from the authenticator app
 * (401 with `details.mfa`), else null.
 */
export function mfaOf(err: unknown): 'required' | 'invalid' | null {
  if (!(err instanceof ApiError) || err.status !== 401) return null;
  const mfa = (err.details as { mfa?: unknown } | undefined)?.mfa;
  return mfa === 'required' || mfa === 'invalid' ? mfa : null;
}

/** A query string from the defined values only. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The message to show for anything thrown. */
export const messageOf = (err: unknown): string =>
  err instanceof ApiError ? err.message : err instanceof Error ? err.message : 'Something went wrong.';
