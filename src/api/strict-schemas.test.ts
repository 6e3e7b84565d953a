/**
 * Every body and query of the contract refuses fields it does not know: a misspelt filter must not
 * answer an unfiltered list, nor an extra field (`"isAdmin": true`) pass unnoticed. Routes without
 * a query schema get an empty strict one (src/http/route-of.ts). Only what outside parties send
 * in shapes of their own stays open, each named here with why.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { endpoints } from './endpoints.js';

const OPEN: Record<string, string> = {
  // The identity provider's redirect carries parameters of its own (code, iss, session_state...).
  'ssoCallback query': 'identity provider redirect',
  // RFC 7662: a resource server may send token_type_hint and extensions; the server ignores them.
  'introspectToken body': 'OAuth token introspection',
  // OIDC third-party initiated login: the provider adds iss, login_hint, target_link_uri.
  'ssoStart query': 'identity provider initiated sign-in',
  // Probes and load balancers may add a cache-buster.
  'health query': 'health probes',
};

/** Paths (body.a.b) of the objects under `schema` that accept unknown keys. */
function looseObjects(schema: z.ZodType, path: string): string[] {
  const def = (schema as unknown as { _zod: { def: Record<string, any> } })._zod.def;
  switch (def.type) {
    case 'object': {
      const own = def.catchall?._zod?.def?.type === 'never' ? [] : [path];
      return [...own, ...Object.entries(def.shape as Record<string, z.ZodType>).flatMap(([k, v]) => looseObjects(v, `${path}.${k}`))];
    }
    case 'union':
      return (def.options as z.ZodType[]).flatMap((o) => looseObjects(o, path));
    case 'optional':
    case 'nullable':
    case 'default':
    case 'readonly':
    case 'nonoptional':
    case 'catch':
      return looseObjects(def.innerType, path);
    case 'pipe':
      return looseObjects(def.in, path);
    case 'array':
      return looseObjects(def.element, `${path}[]`);
    default:
      return [];
  }
}

describe('request schemas are strict', () => {
  it('every body and query refuses unknown fields, but for the named exceptions', () => {
    const loose: string[] = [];
    for (const [name, e] of Object.entries(endpoints)) {
      const def = e as { body?: z.ZodType; query?: z.ZodType };
      for (const part of ['body', 'query'] as const) {
        const schema = def[part];
        if (schema && !OPEN[`${name} ${part}`]) loose.push(...looseObjects(schema, `${name} ${part}`));
      }
    }
    expect(loose).toEqual([]);
  });

  it('the walk finds a loose object where there is one', () => {
    expect(looseObjects(endpoints.ssoCallback.query, 'q')).toEqual(['q']);
  });
});
