/**
 * The typed client of the contract: `call('getGrant', { params: { tenant, grantId } })` builds the
 * URL from the table entry, sends the body, and returns the response typed by the entry's schema.
 * With `checkResponses` (development and tests) every JSON answer is parsed with that schema, so a
 * server and a client that drifted apart fail at once, naming the field. How a request travels
 * (cookies and CSRF in the dashboard, a bearer token in the CLI) and how errors are reported is
 * the transport's business. No Node imports: the dashboard bundles this module.
 */
import type { z } from 'zod';
import { endpoints, type EndpointKey, type Endpoints } from './endpoints.js';
import { pathOf, type BodyOf, type Method, type ParamsOf, type QueryOf, type ResponseOf } from './endpoint.js';

export type Query = Record<string, string | number | boolean | undefined | null>;

/** One request on the wire. `body` undefined: none is sent. */
export interface WireRequest {
  method: Method;
  path: string;
  query?: Query;
  body?: unknown;
}

/** Sends one request; answers the status and the parsed JSON (undefined for an empty body), or throws. */
export type Transport = (request: WireRequest) => Promise<{ status: number; body: unknown }>;

type Part<K extends string, T> = [T] extends [undefined] ? { [P in K]?: undefined } : { [P in K]: T };
/** What a call takes: params when the path has any, a body when the endpoint takes one, a query always optional. */
export type CallArgs<K extends EndpointKey> = Part<'params', ParamsOf<Endpoints[K]>> &
  Part<'body', BodyOf<Endpoints[K]>> & { query?: QueryOf<Endpoints[K]> };
/** What a call answers: the 2xx response schema's output. */
export type CallResult<K extends EndpointKey> = ResponseOf<Endpoints[K]>;

/** Keys whose call needs no argument at all. */
type NoArgKeys = { [K in EndpointKey]: {} extends CallArgs<K> ? K : never }[EndpointKey];

/** The items of a paged endpoint's answer. */
export type ItemOf<K extends EndpointKey> = CallResult<K> extends { items: (infer I)[] } ? I : never;
type PagedKeys = { [K in EndpointKey]: CallResult<K> extends { items: unknown[]; nextCursor: string | null } ? K : never }[EndpointKey];

/** The answer did not match the contract (only when checking responses). */
export class ContractDriftError extends Error {
  constructor(
    readonly key: string,
    readonly issues: readonly z.core.$ZodIssue[],
  ) {
    const where = issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    super(`the answer to ${key} does not match the API contract: ${where}`);
    this.name = 'ContractDriftError';
  }
}

export interface ApiClient {
  call<K extends NoArgKeys>(key: K, args?: CallArgs<K>): Promise<CallResult<K>>;
  call<K extends EndpointKey>(key: K, args: CallArgs<K>): Promise<CallResult<K>>;
  /** Follows `nextCursor` until the end or `max` items; answers the items and the cursor of the first one left. */
  pages<K extends PagedKeys>(key: K, args: CallArgs<K>, max?: number): Promise<{ items: ItemOf<K>[]; nextCursor: string | null }>;
}

/** The largest page the server hands out. */
export const MAX_PAGE = 200;

export function createApiClient(opts: { transport: Transport; checkResponses: boolean }): ApiClient {
  async function call(key: EndpointKey, args: { params?: unknown; query?: unknown; body?: unknown } = {}): Promise<unknown> {
    const e = endpoints[key];
    const res = await opts.transport({
      method: e.method,
      path: pathOf(e.path, args.params as Record<string, unknown> | undefined),
      query: args.query as Query | undefined,
      body: args.body,
    });
    const responses = (e as { response?: Record<number, z.ZodType> }).response;
    // 204 No Content has no body to check (its schema, z.null(), describes the absence for OpenAPI).
    if (res.status === 204) return undefined;
    const schema = responses?.[res.status];
    if (!schema || !opts.checkResponses) return res.body;
    const parsed = schema.safeParse(res.body);
    if (!parsed.success) throw new ContractDriftError(key, parsed.error.issues);
    return parsed.data;
  }

  async function pages(key: EndpointKey, args: { query?: Query } & Record<string, unknown>, max = Infinity) {
    const items: unknown[] = [];
    let cursor: string | undefined;
    for (;;) {
      const limit = Math.min(MAX_PAGE, max - items.length);
      const page = (await call(key, { ...args, query: { ...args.query, limit, cursor } })) as { items: unknown[]; nextCursor: string | null };
      items.push(...page.items);
      if (!page.nextCursor || items.length >= max) return { items, nextCursor: page.nextCursor };
      cursor = page.nextCursor;
    }
  }

  return { call, pages } as ApiClient;
}
