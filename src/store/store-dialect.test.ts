import { Kysely, sql } from 'kysely';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { Database } from './schema.js';
import { StoreDialect } from './store-dialect.js';

// Compiling needs no connection: the pool is never asked for one.
const db = new Kysely<Database>({ dialect: new StoreDialect({ pool: {} as pg.Pool }) });

describe('state names in comparisons are written as literals', () => {
  it.each([
    ['status <> a name', db.selectFrom('jit_accounts').select('id').where('status', '<>', 'deleted'), `"status" <> 'deleted'`, []],
    ['state in names', db.selectFrom('grants as other').select('id').where('other.state', 'in', ['activating', 'active']), `"other"."state" in ('activating', 'active')`, []],
    ['state = a name, beside a parameter', db.selectFrom('grants').select('id').where('id', '=', 'g1').where('grants.state', '=', 'active'), `"grants"."state" = 'active'`, ['g1']],
  ])('%s', (_what, query, text, parameters) => {
    const compiled = query.compile();
    expect(compiled.sql).toContain(text);
    expect(compiled.parameters).toEqual(parameters);
  });

  it.each([
    ['text that is not a name (a quote)', db.selectFrom('grants').select('id').where('state', '=', "x' or '1'='1"), "x' or '1'='1"],
    ['a capital letter', db.selectFrom('grants').select('id').where('state', '=', 'Active'), 'Active'],
    ['another column', db.selectFrom('access_requests').select('id').where('reason', '=', 'active'), 'active'],
    ['a value set, not compared', db.updateTable('grants').set({ state: 'revoked' }).where('id', '=', 'g1'), 'revoked'],
  ])('stays a parameter: %s', (_what, query, value) => {
    expect(query.compile().parameters).toContain(value);
  });

  it('leaves raw SQL as written', () => {
    const q = db.selectFrom('grants').select('id').where(sql<boolean>`state = ${'active'}`);
    expect(q.compile().parameters).toEqual(['active']);
  });
});
