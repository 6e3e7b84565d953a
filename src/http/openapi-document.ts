/**
 * The OpenAPI document, built on its first request from the routes the server registered (their
 * contract schemas, as registered). @fastify/swagger's generator and its YAML and JSON Schema
 * libraries take longer to load than the rest of the HTTP server's setup, and a server start does
 * not need them: each route is recorded as it is added, and on the first request the same routes
 * are replayed, with no-op handlers, into a private Fastify instance that has the plugin.
 */
import type { RouteOptions } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { SESSION_COOKIE } from './auth-hook.js';

export interface OpenApiDocument {
  /** Records a route as the server registers it (an onRoute hook). */
  record(route: RouteOptions): void;
  /** The document; built once, on the first call. */
  get(): Promise<unknown>;
}

export function createOpenApiDocument(): OpenApiDocument {
  const routes: RouteOptions[] = [];
  let built: Promise<unknown> | undefined;
  return {
    record(route) {
      // Fastify adds a HEAD route beside each GET; the replayed GET brings its own, as the plugin
      // leaves HEAD routes out of the document anyway.
      if (route.method === 'HEAD') return;
      routes.push(route);
    },
    get() {
      built ??= build(routes).catch((err: unknown) => {
        built = undefined;
        throw err;
      });
      return built;
    },
  };
}

async function build(routes: readonly RouteOptions[]): Promise<unknown> {
  const [{ default: Fastify }, { default: fastifySwagger }] = await Promise.all([import('fastify'), import('@fastify/swagger')]);
  const doc = Fastify({ logger: false });
  try {
    doc.setValidatorCompiler(validatorCompiler);
    doc.setSerializerCompiler(serializerCompiler);
    await doc.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Timebox API', version: '1', description: 'Just-in-time privileged access.' },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'API token or session token (tb_...)' },
            session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Browser session; unsafe methods also need the x-csrf-token header' },
          },
        },
        security: [{ bearer: [] }, { session: [] }],
      },
      transform: jsonSchemaTransform,
      transformObject: jsonSchemaTransformObject,
    });
    for (const r of routes) {
      doc.route({ method: r.method, url: r.url, ...(r.schema ? { schema: r.schema } : {}), ...(r.config ? { config: r.config } : {}), handler: async () => null });
    }
    await doc.ready();
    return doc.swagger();
  } finally {
    await doc.close();
  }
}
