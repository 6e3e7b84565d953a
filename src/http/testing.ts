/**
 * Test support for route modules: a real server on a throwaway embedded database, bootstrapped,
 * with helpers to sign in and to check that no stored secret hash ever left the server.
 * Used by tests only; open one per test file (opening PGlite takes seconds).
 */
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
    secureCookies: opts.secureCookies ?? false,
    secrets: createSecretBox(randomBytes(32)),
  });
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

  return { app, store, db: store.db, clock, audit, admin, request, login, leakedHashes, seen, close };
}

export type TestApp = Awaited<ReturnType<typeof createTestApp>>;
