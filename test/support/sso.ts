/** Helpers for single sign-on tests: configuring a tenant and walking the flow over plain HTTP. */
import type { Kysely } from 'kysely';
import type { Database } from '../../src/store/schema.js';
import type { ApiClient } from './http.js';

export interface SsoConfig {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  roleMappings?: { group: string; roles: string[] }[];
  groupMappings?: { group: string; operatorGroup: string }[];
  requireSso?: boolean;
  breakGlassEmails?: string[];
  scopes?: string[];
}

export async function configureSso(admin: ApiClient, tenant: string, c: SsoConfig) {
  const res = await admin.call('PUT', `/api/v1/tenants/${tenant}/sso`, { scopes: ['openid', 'email', 'profile', 'groups'], ...c });
  if (res.status !== 200) throw new Error(`could not configure SSO: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { redirectUri: string };
}

/** What changed in the store that a sign-in would create: operators, live sessions, SSO links. */
export async function signInFootprint(db: Kysely<Database>) {
  const count = async (table: 'operators' | 'api_tokens' | 'sso_identities' | 'memberships') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { operators: await count('operators'), tokens: await count('api_tokens'), links: await count('sso_identities'), memberships: await count('memberships') };
}

/** A tiny cookie-keeping HTTP walker that never follows redirects (each hop is asserted). */
export function browserless() {
  const jar = new Map<string, string>();
  async function get(url: string) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(name);
      else jar.set(name, value);
    }
    return { status: res.status, location: res.headers.get('location'), text: await res.text() };
  }
  return { jar, get };
}

/** start → provider's authorize → the callback URL it sends the browser to (not yet visited). */
export async function startAndAuthorize(b: ReturnType<typeof browserless>, base: string, tenant: string): Promise<string> {
  const start = await b.get(`${base}/api/v1/auth/sso/${tenant}/start`);
  if (start.status !== 302 || !start.location) throw new Error(`start did not redirect: ${start.status} ${start.text}`);
  const authorize = await b.get(start.location);
  if (authorize.status !== 302 || !authorize.location) throw new Error(`authorize did not redirect: ${authorize.status} ${authorize.text}`);
  return authorize.location;
}
