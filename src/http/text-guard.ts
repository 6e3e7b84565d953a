/**
 * The server-wide floor under every route's own schema: no string in a request's body, query or
 * path parameters (values and object keys alike) may carry what the store cannot hold or a
 * person cannot see — lone surrogates, NUL and other control characters but tab, line feed and
 * carriage return — and no body may nest deeper than any request of this API needs. Runs before
 * validation, so routes written later are covered without doing anything.
 *
 * A route that must record the refusal itself (sign-in audits failed attempts) sets
 * `config.checksOwnText` and applies the rule in its handler.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import { decodeUtf8, describeTextProblem, findUnsafeText, shownKey } from '../core/text.js';
import { issueAsSentence } from '../core/zod-issues.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The handler applies the text rule itself (to audit what it refuses). */
    checksOwnText?: boolean;
  }
}

/** Deeper than any request body of this API; deeper structures only serve to exhaust stacks. */
export const MAX_NESTING = 32;

export interface TextIssue {
  path: string;
  message: string;
}

const child = (path: string, key: string | number) =>
  typeof key === 'number' ? `${path}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${shownKey(key)}]`;

/** The first unsafe string (or excessive nesting) under `root`, walked without recursion. */
export function findUnsafeValue(value: unknown, root: string): TextIssue | null {
  // `top`: the root's field an entry lies under, which names a structure nested too deep.
  const stack: Array<{ value: unknown; path: string; top: string; depth: number }> = [{ value, path: root, top: root, depth: 0 }];
  while (stack.length > 0) {
    const { value: v, path, top, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const p = findUnsafeText(v);
      if (p) return { path, message: describeTextProblem(p) };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    // Named by the field where it starts: the full path would repeat a key 32 times.
    if (depth >= MAX_NESTING) return { path: top, message: `is nested more than ${MAX_NESTING} levels deep` };
    const under = (p: string) => (depth === 0 ? p : top);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const at = child(path, i);
        stack.push({ value: v[i], path: at, top: under(at), depth: depth + 1 });
      }
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const p = findUnsafeText(key);
      // The key itself cannot be shown safely: name its position instead.
      if (p) return { path: `${path} (a field name)`, message: describeTextProblem(p) };
      const at = child(path, key);
      stack.push({ value: (v as Record<string, unknown>)[key], path: at, top: under(at), depth: depth + 1 });
    }
  }
  return null;
}

export function textRefusal(issue: TextIssue): AppError {
  return new AppError('bad_request', issueAsSentence(issue), { issues: [issue] });
}

/** Whether the bytes a query part stands for (percent escapes included) are valid UTF-8. */
function isUtf8(part: string): boolean {
  return decodeUtf8(Buffer.from(part.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1')) !== null;
}

/**
 * The query string's parser turns bytes that are not UTF-8 into U+FFFD without a word; such
 * bytes are refused instead, naming the parameter. (A `%` not followed by two hex digits stays
 * a literal `%`, as the parser reads it.)
 */
function findUndecodableQuery(url: string | undefined): TextIssue | null {
  const at = url?.indexOf('?') ?? -1;
  if (!url || at < 0) return null;
  return findUndecodablePairs(url.slice(at + 1), 'query');
}

/** The first `key=value` pair of an urlencoded text (a query, a form) that is not UTF-8 once decoded. */
export function findUndecodablePairs(text: string, root: 'query' | 'body'): TextIssue | null {
  for (const pair of text.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const keyOk = isUtf8(key);
    if (!keyOk || !isUtf8(eq < 0 ? '' : pair.slice(eq + 1))) {
      const named = keyOk && /^[A-Za-z_][\w.-]*$/.test(key) ? `${root}.${key}` : root;
      return { path: named, message: 'is not valid UTF-8 text (after percent-decoding)' };
    }
  }
  return null;
}

/** The first unsafe string of a request, looking at params, query and body in that order. */
export function findUnsafeInRequest(request: FastifyRequest): TextIssue | null {
  return (
    findUnsafeValue(request.params, 'params') ??
    findUndecodableQuery(request.raw.url) ??
    findUnsafeValue(request.query, 'query') ??
    findUnsafeValue(request.body, 'body')
  );
}

export function installTextGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    if (request.routeOptions.config?.checksOwnText) return;
    const issue = findUnsafeInRequest(request);
    if (issue) throw textRefusal(issue);
  });
}
