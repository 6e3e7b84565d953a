/**
 * Test support for route modules: a real server on a throwaway embedded database, bootstrapped,
 * with helpers to sign in and to check that no stored secret hash ever left the server.
 * Used by tests only; open one per test file (opening PGlite takes seconds).
 */
import { noAccessToEnd } from '../auth/member-removal.js';
import { randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Logger } from 'pino';
import { createAuditLog } from '../audit/audit-log.js';
import { fakeClock } from '../core/clock.js';
import { createSecretBox } from '../secrets/envelope.js';
import { openStore } from '../store/db.js';
import { bootstrapIfEmpty } from '../auth/bootstrap.js';
import { SESSION_COOKIE } from './auth-hook.js';
import { createHttpServer, type RouteModule } from './server.js';

export interface SignedIn {
  token: string;
  csrfToken: string;
  /** `timebox_session=...` for a Cookie header. */
  cookie: string;
  operatorId: string;
}

export async function createTestApp(opts: { routes?: RouteModule[]; secureCookies?: boolean; logger?: Logger } = {}) {
  const store = await openStore({ dataDir: 'memory://' });
  const clock = fakeClock();
  const audit = createAuditLog({ clock });
  const admin = await bootstrapIfEmpty(store.db, audit, clock);
  if (!admin) throw new Error('a fresh database must bootstrap');
  const app = await createHttpServer({
    db: store.db,
    audit,
    clock,
    logger: opts.logger ?? false,
    routes: opts.routes ?? [],
    memberRemoval: noAccessToEnd,
    secureCookies: opts.secureCookies ?? false,
    secrets: createSecretBox(randomBytes(32)),
  });
  /**
   * The printed password must be changed at first sign-in; route tests start from an owner who
   * did that (through the API, as a person would). `admin.password` is the new one.
   */
  {
    const first = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: admin, remoteAddress: '192.0.2.1' });
    const next = `Own-${randomBytes(12).toString('base64url')}`;
    const changed = await app.inject({
      method: 'POST',
      url: '/api/v1/me/password',
      headers: { authorization: `Bearer ${first.json<{ token: string }>().token}` },
      payload: { currentPassword: admin.password, newPassword: next },
    });
    if (changed.statusCode !== 200) throw new Error(`first owner's password change failed: ${changed.body}`);
    admin.password = next;
  }
  /** Every response (headers and body) this helper saw, for leak checks. */
  const seen: string[] = [];

  async function request(options: InjectOptions): Promise<LightMyRequestResponse> {
    const res = await app.inject(options);
    seen.push(JSON.stringify(res.headers), res.body);
    return res;
  }

  async function login(email: string, password: string, remoteAddress = '127.0.0.1'): Promise<SignedIn> {
    const res = await request({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress });
    if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
    const body = res.json<{ token: string; csrfToken: string; operator: { id: string } }>();
    return { token: body.token, csrfToken: body.csrfToken, cookie: `${SESSION_COOKIE}=${body.token}`, operatorId: body.operator.id };
  }

  /** `by` invites a new person to the tenant; they accept with their own password and sign in. */
  async function addMember(by: SignedIn, tenant: string, email: string, roles: string[], displayName?: string): Promise<SignedIn> {
    const res = await request({
      method: 'POST',
      url: `/api/v1/tenants/${tenant}/members`,
      headers: { authorization: `Bearer ${by.token}` },
      payload: { email, roles, ...(displayName ? { displayName } : {}) },
    });
    if (res.statusCode !== 201) throw new Error(`invitation failed: ${res.statusCode} ${res.body}`);
    const token = String(res.json<{ link: string }>().link.split('/invite/')[1]);
    const password = `Own-${randomBytes(12).toString('base64url')}`;
    const accepted = await request({ method: 'POST', url: '/api/v1/invitations/accept', payload: { token, password } });
    if (accepted.statusCode !== 200) throw new Error(`accepting failed: ${accepted.statusCode} ${accepted.body}`);
    return login(email, password);
  }

  /** Stored hashes (passwords, tokens, CSRF) that appear in any response seen so far. */
  async function leakedHashes(): Promise<string[]> {
    const ops = await store.db.selectFrom('operators').select('password_hash').execute();
    const toks = await store.db.selectFrom('api_tokens').select(['token_hash', 'csrf_hash']).execute();
    const hashes = [...ops.map((o) => o.password_hash), ...toks.flatMap((t) => [t.token_hash, t.csrf_hash])].filter(
      (h): h is string => h !== null,
    );
    const all = seen.join('\n');
    const leaked = hashes.filter((h) => all.includes(h));
    if (all.includes('$argon2')) leaked.push('$argon2…');
    return leaked;
  }

  async function close() {
    await app.close();
    await store.close();
  }

  return { app, store, db: store.db, clock, audit, admin, request, login, addMember, leakedHashes, seen, close };
}

export type TestApp = Awaited<ReturnType<typeof createTestApp>>;
