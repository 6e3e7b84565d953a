/**
 * Keyset pagination: `?limit=&cursor=`, where the cursor is an opaque base64url JSON array of
 * the last row's sort keys. Opaque so clients do not build cursors; validated so a tampered one
 * is a clear 400, never a SQL error.
 */
import { z } from 'zod';
import { badRequest } from '../core/errors.js';
import { findTextProblem } from '../core/text.js';

import { pageQuerySchema } from '../api/fields.js';

// The page shapes are part of the contract (src/api); the cursor codec is the server's.
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageQuerySchema, pageSchema } from '../api/fields.js';
export type PageQuery = z.infer<typeof pageQuerySchema>;

export function encodeCursor(keys: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(keys), 'utf8').toString('base64url');
}

/** Undefined when there is no cursor (first page); 400 when it is not one we made. */
export function decodeCursor<T>(cursor: string | undefined, shape: z.ZodType<T>): T | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('query.cursor: malformed cursor; use the nextCursor of a previous page');
  }
  const result = shape.safeParse(parsed);
  if (!result.success) throw badRequest('query.cursor: malformed cursor; use the nextCursor of a previous page');
  return result.data;
}

/*
 * Cursor shapes. Use the one matching the column types: a value PostgreSQL cannot cast (a
 * non-UUID where a uuid is compared) would otherwise be a 500 instead of a 400.
 */
/**
 * A text key as we write them (slugs, names, emails): no control characters and no lone
 * surrogates. PostgreSQL refuses NUL in text, so a tampered cursor holding one would be a 500.
 */
const textKey = z
  .string()
  .max(400)
  .refine((s) => findTextProblem(s, 'line') === null);
/** (text) keyset, e.g. (slug). */
export const oneStringKey = z.tuple([textKey]);
/** (text, text) keyset; only when both columns are text. */
export const twoStringKeys = z.tuple([textKey, textKey]);
/** (uuid) keyset, e.g. (id). */
export const oneIdKey = z.tuple([z.guid()]);
/** (text, uuid) keyset, e.g. (email, id). */
export const stringAndIdKeys = z.tuple([textKey, z.guid()]);
/** (timestamptz, uuid) keyset, e.g. (created_at, id), the time as ISO-8601. */
export const timeAndIdKeys = z.tuple([z.iso.datetime({ offset: true }), z.guid()]);

/** Splits `limit + 1` fetched rows into a page and the cursor of the next page (null at the end). */
export function toPage<R, I>(rows: readonly R[], limit: number, toItem: (r: R) => I, keysOf: (r: R) => readonly (string | number)[]) {
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  return {
    items: pageRows.map(toItem),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keysOf(last)) : null,
  };
}
