/**
 * What an endpoint is in the contract: method, path, who may call it, and the zod schemas of its
 * params, query, body and responses. Written once here; the server registers its routes from these
 * entries, the OpenAPI document is generated from them, and the typed client calls through them.
 * No Node imports: the dashboard bundles this module.
 */
import type { z } from 'zod';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * `session`: a bearer token (API or session) or the session cookie with its CSRF header.
 * `public`: no authentication. `agent`: the agent's own signed requests (checked by the route).
 * `metrics`: the scrape token (checked by the route).
 */
export type Auth = 'session' | 'public' | 'agent' | 'metrics';

export interface EndpointDef {
  method: Method;
  /** Fastify's pattern, e.g. `/api/v1/tenants/:tenant/grants/:grantId`. */
  path: string;
  summary?: string;
  tags: readonly string[];
  auth: Auth;
  /** Also answered to a principal who must still change the password they were given. */
  beforePasswordChange?: true;
  /** Left out of the OpenAPI document. */
  hide?: true;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** By status code. An endpoint without one for 2xx answers something other than JSON (a stream, text, a redirect). */
  response?: Readonly<Record<number, z.ZodType>>;
}

/** Keeps the literal types of an entry, so the server and the client infer from its schemas. */
export const endpoint = <const E extends EndpointDef>(e: E): E => e;

type Field<E, K extends string> = E extends { [P in K]: infer S extends z.ZodType } ? S : undefined;
export type ParamsSchema<E> = Field<E, 'params'>;
export type QuerySchema<E> = Field<E, 'query'>;
export type BodySchema<E> = Field<E, 'body'>;

/** The 2xx response schemas of an endpoint that carry a body (204 has none: its answer is undefined). */
type SuccessStatus = 200 | 201 | 202;
export type SuccessSchema<E> = E extends { response: infer R }
  ? { [S in keyof R]: S extends SuccessStatus ? R[S] : never }[keyof R]
  : undefined;

/** What the caller sends (before defaults and transforms) and what comes back (after parsing). */
export type ParamsOf<E> = ParamsSchema<E> extends z.ZodType ? z.input<ParamsSchema<E>> : undefined;
export type QueryOf<E> = QuerySchema<E> extends z.ZodType ? z.input<QuerySchema<E>> : undefined;
export type BodyOf<E> = BodySchema<E> extends z.ZodType ? z.input<BodySchema<E>> : undefined;
export type ResponseOf<E> = [SuccessSchema<E>] extends [never] ? undefined : SuccessSchema<E> extends z.ZodType ? z.output<SuccessSchema<E>> : undefined;

/** Fills `:name` segments of a path from params, encoded. */
export function pathOf(path: string, params: Record<string, unknown> | undefined): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, (_, key: string) => {
    const value = params?.[key];
    if (value === undefined || value === null) throw new Error(`${path}: missing path parameter ${key}`);
    return encodeURIComponent(String(value));
  });
}
