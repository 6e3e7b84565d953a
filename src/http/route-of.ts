/**
 * Registers a route from its contract entry (src/api): method, path, schemas, OpenAPI tags and
 * summary, and the auth flags the auth hook reads all come from the entry, so the handler's
 * request and reply types are the contract's. Usage:
 *   app.route({ ...routeOf(endpoints.listGroups), handler: async (request) => … })
 */
import type { FastifyContextConfig } from 'fastify';
import { z } from 'zod';
import type { BodySchema, EndpointDef, ParamsSchema, QuerySchema } from '../api/endpoint.js';

const NO_QUERY = z.strictObject({});

type ResponseSchemas<E> = E extends { response: infer R } ? R : undefined;

export interface ContractSchema<E> {
  tags: string[];
  summary?: string;
  hide?: boolean;
  security?: [];
  params: ParamsSchema<E>;
  querystring: QuerySchema<E>;
  body: BodySchema<E>;
  response: ResponseSchemas<E>;
}

/**
 * `extra.body`: the contract's body with a rule only the server can check (one that needs Node, such
 * as the outbound address policy); it must accept and produce the contract's types.
 */
export function routeOf<const E extends EndpointDef>(
  e: E,
  extra: { config?: FastifyContextConfig; body?: BodySchema<E> extends z.ZodType ? z.ZodType<z.output<BodySchema<E>>, z.input<BodySchema<E>>> : never } = {},
) {
  const schema: Record<string, unknown> = { tags: [...e.tags] };
  if (e.summary) schema.summary = e.summary;
  if (e.hide) schema.hide = true;
  if (e.auth !== 'session') schema.security = []; // not the session: OpenAPI says no bearer or cookie
  if (e.params) schema.params = e.params;
  // A route that takes no query refuses one: a filter it does not know (`?targetId=`) would
  // otherwise be ignored silently and the caller handed the whole list.
  schema.querystring = e.query ?? NO_QUERY;
  if (e.body) schema.body = extra.body ?? e.body;
  if (e.response) schema.response = e.response;
  return {
    method: e.method,
    url: e.path,
    config: {
      ...extra.config,
      ...(e.auth === 'session' ? {} : { public: true }),
      ...(e.beforePasswordChange ? { beforePasswordChange: true } : {}),
    } as FastifyContextConfig,
    schema: schema as unknown as ContractSchema<E>,
  };
}
