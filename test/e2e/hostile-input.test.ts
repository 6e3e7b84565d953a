/**
 * Every request schema of the OpenAPI document, attacked with generated hostile input: NUL and
 * other control characters, lone UTF-16 surrogates, bidi overrides and invisible characters,
 * blank and huge strings, wrong types and nested junk, in bodies, queries and path parameters.
 * On PostgreSQL, signed in as a tenant owner, whatever is sent: never a 5xx, and a refusal creates no row in
 * any main table (audit events of refusals, such as failed sign-ins, aside).
 *
 * Bounded in time: a fixed number of runs per operation (HOSTILE_RUNS to change it); a failure
 * prints fast-check's seed and path (HOSTILE_SEED replays a run).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../harness/pg-database.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

type Schema = Record<string, any>;
interface Operation {
  method: string;
  path: string;
  params: Array<{ name: string; in: string; required?: boolean; schema?: Schema }>;
  body?: Schema;
}

const RUNS = Number(process.env.HOSTILE_RUNS ?? 16);
const SEED = process.env.HOSTILE_SEED ? Number(process.env.HOSTILE_SEED) : Date.now() % 2 ** 31;
/** Operations that would end the test's own session or never answer (a live event stream). */
const SKIP = new Set(['POST /api/v1/auth/logout', 'GET /api/v1/tenants/{tenant}/events']);

/** Tables whose rows a refused request must not have created. */
const TABLES = [
  'tenants', 'operators', 'memberships', 'api_tokens', 'targets', 'entitlements', 'policies', 'jit_accounts', 'access_requests',
  'grants', 'grant_extensions', 'approvals', 'reviews', 'operator_groups', 'operator_group_members', 'webhooks',
  'tenant_notification_settings', 'tenant_jit_settings', 'notifications', 'alerts', 'agents', 'agent_enrolment_tokens',
  'certificate_authorities', 'issued_credentials',
] as const;

let server: TestServer;
let store: TestDatabase;
let token: string;
let operations: Operation[] = [];
let components: Record<string, Schema> = {};

async function rowCounts(): Promise<Record<string, number>> {
  const db = server.tb.store.db;
  const parts = TABLES.map((t) => `(select count(*) from ${t})::int as ${t}`).join(', ');
  const r = await sql<Record<string, number>>`select ${sql.raw(parts)},
    (select count(*) from audit_events where action not like '%failed' and action not like '%refused%')::int as audit_events`.execute(db);
  return r.rows[0]!;
}

/* ---------- hostile values ---------- */

const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const nasty = fc.constantFrom(
  '\u0000', 'fix\u0000it', '\ud800', 'x\udfffy', '\udc00\ud800', 'a\u202egnp.exe', '\u2066evil\u2069', 'zero\u200bwidth', '\ufeffbom',
  '\u001b[31mred', 'bell\u0007', 'c1\u0085', 'line\nbreak', 'tab\t', 'cr\r', '\u2028', ' ', '   ', '', '\u00a0', "'; drop table grants; --",
  '../../etc/passwd', '${jndi:ldap://x}', '%00', '\\u0000', '🔑', 'Zoë', 'default', '00000000-0000-4000-8000-000000000000',
);
/** Short hostile strings: what fits in a URL. */
const shortHostile: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: nasty },
  { weight: 2, arbitrary: fc.tuple(fc.string({ maxLength: 12 }), nasty, fc.string({ maxLength: 12 })).map(([a, b, c]) => a + b + c) },
  { weight: 2, arbitrary: fc.string({ unit: anyCodeUnit, maxLength: 24 }) },
);
const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: shortHostile },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 70_000 }).chain((n) => nasty.map((s) => 'x'.repeat(n) + s)) },
);
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1e308, 3.5, [], {}, [[[[[[]]]]]]),
  fc.anything({ maxDepth: 3, maxKeys: 4, stringUnit: anyCodeUnit }),
  fc.integer({ min: 33, max: 60 }).map((d) => {
    let v: unknown = 'deep';
    for (let i = 0; i < d; i++) v = i % 2 ? [v] : { a: v };
    return v;
  }),
);

function resolve(schema: Schema): Schema {
  if (schema?.$ref) {
    const name = String(schema.$ref).split('/').pop()!;
    return components[name] ?? {};
  }
  return schema ?? {};
}

/** A value shaped like `schema`, its strings hostile, sometimes replaced by junk. */
function valueOf(raw: Schema, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(raw);
  const shaped = shapedValueOf(schema, depth);
  return fc.oneof({ weight: 6, arbitrary: shaped }, { weight: 1, arbitrary: junk });
}

function shapedValueOf(schema: Schema, depth: number): fc.Arbitrary<unknown> {
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives) && alternatives.length > 0) return fc.oneof(...alternatives.map((s: Schema) => valueOf(s, depth + 1)));
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) return valueOf(schema.allOf[0], depth + 1);
  if (depth > 6) return junk;
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type;
  if (schema.enum) return fc.oneof(fc.constantFrom(...schema.enum), hostileString);
  if (schema.const !== undefined) return fc.oneof(fc.constant(schema.const), hostileString);
  switch (type) {
    case 'object': {
      const props: Record<string, Schema> = schema.properties ?? {};
      const required = new Set<string>(schema.required ?? []);
      const record = fc.record(
        Object.fromEntries(Object.entries(props).map(([k, s]) => [k, valueOf(s, depth + 1)])),
        { requiredKeys: Object.keys(props).filter((k) => required.has(k) || Math.random() < 0.5) },
      );
      const extra = fc.dictionary(hostileString, fc.oneof(hostileString, junk), { maxKeys: 2 });
      return fc.oneof({ weight: 5, arbitrary: record }, { weight: 1, arbitrary: fc.tuple(record, extra).map(([a, b]) => ({ ...b, ...a })) });
    }
    case 'array':
      return fc.array(valueOf(schema.items ?? {}, depth + 1), { maxLength: 4 });
    case 'string':
      if (schema.format === 'uuid') return fc.oneof(fc.uuid(), hostileString);
      if (schema.format === 'date-time') return fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), hostileString);
      return hostileString;
    case 'integer':
    case 'number':
      return fc.oneof(fc.integer({ min: -10, max: 100_000 }), fc.double(), hostileString);
    case 'boolean':
      return fc.oneof(fc.boolean(), hostileString);
    default:
      return fc.oneof(hostileString, junk);
  }
}

/** A URL part from any string: what a client can put on the wire (lone surrogates as their UTF-8-like bytes). */
const urlPart = (s: string) =>
  Array.from(s, (ch) => {
    try {
      return encodeURIComponent(ch);
    } catch {
      return '%ED%A0%80';
    }
  }).join('');

function requestOf(op: Operation): fc.Arbitrary<{ url: string; body: unknown | undefined }> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const pathArb = fc.tuple(
    ...pathParams.map((p) =>
      p.name === 'tenant' ? fc.oneof({ weight: 4, arbitrary: fc.constant('default') }, { weight: 1, arbitrary: shortHostile }) : fc.oneof(fc.uuid(), shortHostile),
    ),
  );
  const queryArb = fc.tuple(...queryParams.map((p) => fc.option(fc.oneof(shortHostile, valueOf(p.schema ?? {}).map((v) => (typeof v === 'string' ? v.slice(0, 2000) : (JSON.stringify(v) ?? '').slice(0, 2000)))), { nil: undefined })));
  const bodyArb = op.body ? valueOf(op.body) : fc.constant(undefined);
  return fc.tuple(pathArb, queryArb, bodyArb).map(([pathValues, queryValues, body]) => {
    let i = 0;
    const path = op.path.replace(/\{[^}]+\}/g, () => urlPart(String(pathValues[i++] ?? '')) || 'x');
    const query = queryParams
      .map((p, j) => (queryValues[j] === undefined ? null : `${encodeURIComponent(p.name)}=${urlPart(String(queryValues[j]))}`))
      .filter(Boolean)
      .join('&');
    return { url: query ? `${path}?${query}` : path, body };
  });
}

async function send(op: Operation, url: string, body: unknown): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let payload: string | undefined;
  if (op.body && body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(new URL(url, server.url), { method: op.method, headers, body: payload, signal: AbortSignal.timeout(60_000) });
  return { status: res.status, text: (await res.text()).slice(0, 500) };
}

beforeAll(async () => {
  // PostgreSQL, where a NUL or a lone surrogate used to surface as a 500.
  store = await createTestDatabase(inject('pgAdminUrl'));
  server = await startTestServer({ databaseUrl: store.url });
  const login = await fetch(new URL('/api/v1/auth/login', server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: server.tb.bootstrap!.email, password: server.tb.bootstrap!.password }),
  });
  token = ((await login.json()) as { token: string }).token;
  const doc = (await (await fetch(new URL('/api/openapi.json', server.url))).json()) as any;
  components = doc.components?.schemas ?? {};
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, spec] of Object.entries<any>(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const op: Operation = {
        method: method.toUpperCase(),
        path,
        params: spec.parameters ?? [],
        body: spec.requestBody?.content?.['application/json']?.schema,
      };
      // Only what takes input: a body, a query or a path parameter.
      if (op.body || op.params.some((p) => p.in === 'query' || p.in === 'path')) operations.push(op);
    }
  }
  operations = operations.filter((op) => !SKIP.has(`${op.method} ${op.path}`));
}, 120_000);

afterAll(async () => {
  await server?.close();
  await store?.drop();
});

it('answers hostile input to every request schema without a 5xx, creating nothing when it refuses', async () => {
  expect(operations.length).toBeGreaterThan(40);
  console.log(`hostile input: ${operations.length} operations × ${RUNS} runs, seed ${SEED} (HOSTILE_SEED=${SEED} replays it)`);
  const refusals: Record<number, number> = {};
  for (const op of operations) {
    await fc.assert(
      fc.asyncProperty(requestOf(op), async ({ url, body }) => {
        const before = await rowCounts();
        const res = await send(op, url, body);
        refusals[res.status] = (refusals[res.status] ?? 0) + 1;
        expect(res.status, `${op.method} ${url} → ${res.status} ${res.text}`).toBeLessThan(500);
        if (res.status >= 400) expect(await rowCounts(), `${op.method} ${url} → ${res.status} created rows`).toEqual(before);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }
  console.log(`hostile input: answers by status ${JSON.stringify(refusals)}`);
}, 600_000);

it('still serves ordinary requests afterwards', async () => {
  const res = await fetch(new URL('/api/v1/me', server.url), { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
});
