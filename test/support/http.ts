/** A tiny API caller for end-to-end tests: what any HTTP client of Timebox would send. */
import { randomBytes } from 'node:crypto';
export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export function apiClient(baseUrl: string, token?: string) {
  async function call<T = any>(method: string, path: string, body?: unknown, raw?: string): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(new URL(path, baseUrl), {
      method,
      headers,
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, body: parsed as T };
  }
  return {
    call,
    /** The bearer token, for requests this client cannot make (a chosen Host header). */
    token,
    get: <T = any>(p: string) => call<T>('GET', p),
    post: <T = any>(p: string, b?: unknown) => call<T>('POST', p, b ?? {}),
    withToken: (t: string) => apiClient(baseUrl, t),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

export async function signIn(baseUrl: string, email: string, password: string): Promise<ApiClient> {
  const res = await apiClient(baseUrl).post<{ token: string }>('/api/v1/auth/login', { email, password });
  if (res.status !== 200) throw new Error(`sign-in of ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return apiClient(baseUrl, res.body.token);
}

/** A password of the kind a person chooses for themselves: long and unpredictable. */
export const ownPassword = () => `Own-${randomBytes(12).toString('base64url')}`;

/**
 * Signs in the first owner. Their printed password must be changed at first sign-in: this does
 * it, as they would, and keeps the new one in `creds.password` for later sign-ins.
 */
export async function signInFirstOwner(baseUrl: string, creds: { email: string; password: string }): Promise<ApiClient> {
  const res = await apiClient(baseUrl).post<{ token: string; passwordChangeRequired?: boolean }>('/api/v1/auth/login', creds);
  if (res.status !== 200) throw new Error(`sign-in of ${creds.email} failed: ${res.status} ${JSON.stringify(res.body)}`);
  const api = apiClient(baseUrl, res.body.token);
  if (res.body.passwordChangeRequired) {
    const next = ownPassword();
    const changed = await api.post('/api/v1/me/password', { currentPassword: creds.password, newPassword: next });
    if (changed.status !== 200) throw new Error(`password change failed: ${changed.status} ${JSON.stringify(changed.body)}`);
    creds.password = next;
  }
  return api;
}

export interface Invited {
  invitation: { id: string; email: string; roles: string[]; expiresAt: string };
  delivery: 'email' | 'link';
  link: string | null;
}

/** The token at the end of an invitation link. */
export const tokenOf = (link: string | null): string => {
  const token = link?.split('/invite/')[1];
  if (!token) throw new Error(`not an invitation link: ${String(link)}`);
  return token;
};

export interface Member {
  id: string;
  email: string;
  password: string;
  api: ApiClient;
}

/**
 * Adds a new person to a tenant the way it happens: the admin invites them, they open the link
 * and choose their own password, then sign in.
 */
export async function addMember(baseUrl: string, admin: ApiClient, tenant: string, email: string, roles: string[], displayName?: string): Promise<Member> {
  const res = await admin.post<Invited>(`/api/v1/tenants/${tenant}/members`, { email, roles, ...(displayName ? { displayName } : {}) });
  if (res.status !== 201) throw new Error(`could not invite ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  if (!res.body.link) throw new Error(`the invitation of ${email} was e-mailed (the tenant has SMTP settings): use createMember from test-server.ts`);
  const password = ownPassword();
  const accepted = await apiClient(baseUrl).post('/api/v1/invitations/accept', { token: tokenOf(res.body.link), password, ...(displayName ? { displayName } : {}) });
  if (accepted.status !== 200) throw new Error(`could not accept the invitation of ${email}: ${accepted.status} ${JSON.stringify(accepted.body)}`);
  const login = await apiClient(baseUrl).post<{ token: string; operator: { id: string } }>('/api/v1/auth/login', { email, password });
  if (login.status !== 200) throw new Error(`sign-in of ${email} failed: ${login.status} ${JSON.stringify(login.body)}`);
  return { id: login.body.operator.id, email, password, api: apiClient(baseUrl, login.body.token) };
}

/** Adds someone who already has an account: invited, they accept while signed in (consent). */
export async function addExistingMember(admin: ApiClient, tenant: string, person: ApiClient, email: string, roles: string[]): Promise<void> {
  const res = await admin.post<Invited>(`/api/v1/tenants/${tenant}/members`, { email, roles });
  if (res.status !== 201) throw new Error(`could not invite ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  const accepted = await person.post('/api/v1/me/invitations/accept', { token: tokenOf(res.body.link) });
  if (accepted.status !== 200) throw new Error(`${email} could not accept: ${accepted.status} ${JSON.stringify(accepted.body)}`);
}
