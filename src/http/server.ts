/**
 * The HTTP API: Fastify with zod schemas for every route (validation, response filtering and the
 * OpenAPI document all come from the same schemas), session/token auth and one error shape.
 * Returns the instance without listening so tests can `inject` and the CLI can `listen`.
 */
import type { MemberRemoval } from '../auth/member-removal.js';
import { routeOf } from './route-of.js';
import { endpoints } from '../api/endpoints.js';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import { databaseRateLimitStore } from './rate-limit-store.js';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../store/schema.js';
import { createOperators } from '../auth/operators.js';
import { warmDummyHash } from '../auth/password-hash.js';
import { createTokens } from '../auth/tokens.js';
import { createTotp, noSecretBox } from '../auth/totp.js';
import type { SecretBox } from '../secrets/types.js';
import { installAuthHook } from './auth-hook.js';
import { createOpenApiDocument } from './openapi-document.js';
import { strictJsonBodies } from './json-body.js';
import { createPasswordGuesses } from '../auth/password-guesses.js';
import { BODY_LIMIT_BYTES, clientErrorHandler, frameworkErrorHandler, installErrorHandlers, MAX_PATH_PARAM_LENGTH } from './error-handler.js';
import { installTextGuard } from './text-guard.js';
import { installIssueSentences } from '../core/zod-issues.js';
import { fastifyTrustProxy, type TrustProxy } from './trust-proxy.js';
import { authRoutes } from './routes/auth-routes.js';
import { mfaRoutes } from './routes/mfa-routes.js';
import { tenantRoutes } from './routes/tenant-routes.js';
import { tokenRoutes } from './routes/token-routes.js';
import { identityRoutes } from './routes/identity-routes.js';
import { createInvitations } from '../auth/invitations.js';
import { createOwnPassword } from '../auth/own-password.js';

export type ZodApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;
export type RouteModule = (app: ZodApp) => void | Promise<void>;

/** Shared by every route through `request.server.deps` (e.g. requireTenant). */
export interface HttpDeps {
  db: Kysely<Database>;
  audit: AuditLog;
  clock: Clock;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: HttpDeps;
    /** Every route registered, as `METHOD path` (HEAD routes Fastify adds for GET left out): checked against the contract's table. */
    registeredRoutes: string[];
  }
}

export interface HttpServerOptions extends HttpDeps {
  logger: Logger | false;
  /** Extra route modules (targets, grants, audit...), registered after the built-in ones. */
  routes: RouteModule[];
  /** Behind reverse proxies: which X-Forwarded-* hops to believe for the client address and scheme. */
  trustProxy?: TrustProxy;
  /** Always mark the session cookies Secure; they are anyway whenever the request came over HTTPS. */
  secureCookies?: boolean;
  /** Encrypts operators' TOTP secrets; without it, enrolled operators cannot sign in (never skipped). */
  secrets?: SecretBox;
  /** What a member's removal from a tenant also ends (their grants there); see auth/member-removal.ts. */
  memberRemoval: MemberRemoval;
  /** TIMEBOX_PUBLIC_URL: the base of links sent to people (invitations); else the request's own. */
  publicUrl?: string | undefined;
  /** Told the duration of every response, by route pattern (metrics). */
  observeRequest?: (method: string, route: string | undefined, statusCode: number, seconds: number) => void;
}

export async function createHttpServer(deps: HttpServerOptions): Promise<ZodApp> {
  installIssueSentences();
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Past this the router gives up before any route: long ids and slugs reach the routes' own
    // schemas instead, which say what an id or a slug must be (a 400 a person can read).
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    trustProxy: fastifyTrustProxy(deps.trustProxy ?? { kind: 'none' }),
    clientErrorHandler,
    // Refused before routing, so no route hook sees them: counted here (no route pattern).
    frameworkErrors: (err, request, reply) => {
      const started = performance.now();
      const status = frameworkErrorHandler(err, request, reply);
      deps.observeRequest?.(request.method, undefined, status, (performance.now() - started) / 1000);
    },
  }).withTypeProvider<ZodTypeProvider>();

  const { db, audit, clock } = deps;
  app.decorate('deps', { db, audit, clock });
  const registeredRoutes: string[] = [];
  app.decorate('registeredRoutes', registeredRoutes);
  const openapi = createOpenApiDocument();
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') registeredRoutes.push(`${method} ${route.url}`);
    openapi.record(route);
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app);
  installTextGuard(app);
  strictJsonBodies(app);

  await app.register(fastifyCookie);
  // Only routes that ask for it (login) are limited; the limits live in their route config. The
  // counters live in the database, so the limit holds across every process sharing it.
  await app.register(fastifyRateLimit, { global: false, store: databaseRateLimitStore(db) });

  const tokens = createTokens({ db, audit, clock });
  const guesses = createPasswordGuesses(db);
  const operators = createOperators({ db, audit, clock });
  const totp = createTotp({ db, audit, clock, secrets: deps.secrets ?? noSecretBox });
  const invitations = createInvitations({ db, audit, clock, operators, secrets: deps.secrets ?? noSecretBox });
  installAuthHook(app, tokens, deps.secureCookies === true);

  // Responses carry tokens and private data: never cached, never sniffed as another type.
  app.addHook('onSend', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    // Reached over TLS (directly or through a trusted proxy): the browser keeps to TLS for a year.
    if (request.protocol === 'https') reply.header('strict-transport-security', 'max-age=31536000');
  });
  const observe = deps.observeRequest;
  if (observe) {
    app.addHook('onResponse', async (request, reply) => {
      // The pattern, never the raw URL: one series per route, whatever ids the paths carry.
      observe(request.method, request.is404 ? undefined : request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
    });
  }
  // The dummy hash makes unknown-email logins as slow as real ones; compute it before the first.
  app.addHook('onReady', async () => {
    await warmDummyHash();
  });

  app.route({
    ...routeOf(endpoints.openapi),
    handler: async () => openapi.get(),
  });

  app.route({
    ...routeOf(endpoints.health),
    handler: async (request, reply) => {
      try {
        await sql`select 1`.execute(db);
        return { status: 'ok' as const };
      } catch (err) {
        request.log.error({ err }, 'health check: database unreachable');
        return reply.status(503).send({ status: 'unavailable' as const });
      }
    },
  });

  const builtIn: RouteModule[] = [
    authRoutes({ db, audit, operators, tokens, totp, guesses, secureCookies: deps.secureCookies ?? false }),
    mfaRoutes({ totp }),
    tokenRoutes({ tokens, clock }),
    tenantRoutes({ db, operators, invitations, memberRemoval: deps.memberRemoval, publicUrl: deps.publicUrl }),
    identityRoutes({ invitations, ownPassword: createOwnPassword({ db, audit, tokens, guesses }), tokens, publicUrl: deps.publicUrl }),
  ];
  for (const routes of [...builtIn, ...deps.routes]) {
    // Each module in its own encapsulated scope; hooks and handlers above still apply.
    await app.register(async (scope) => {
      await routes(scope.withTypeProvider<ZodTypeProvider>());
    });
  }
  return app;
}
