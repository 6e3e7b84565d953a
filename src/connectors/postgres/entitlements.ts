/**
 * Entitlements are the server's group roles: NOLOGIN, not pg_* built-ins, not the service account,
 * not Timebox's own (disabled) JIT accounts, not carrying access to the host (HOST_ACCESS_ROLES),
 * and with a name Timebox accepts.
 * Keyset pagination by name (the cursor is the last name seen), so pages stay stable and cheap.
 */
import type pg from 'pg';
import type { EntitlementPage, ListEntitlementsQuery } from '../contract.js';
import { HOST_ACCESS_ROLES, JIT_MARKER, carriesHostAccess } from './catalog.js';
import { ENTITLEMENT_NAME_REGEX } from './names.js';
import { withClient } from './session.js';

const MAX_LIMIT = 500;

/** ILIKE treats % and _ as wildcards; a search for "app_ro" means those characters literally. */
export const likePattern = (search: string) => `%${search.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

export async function listGroupRoles(pool: pg.Pool, serviceUser: string, q: ListEntitlementsQuery): Promise<EntitlementPage> {
  const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(q.limit)));
  const search = q.search?.trim() ? likePattern(q.search.trim()) : null;
  const { rows } = await withClient(pool, (c) =>
    c.query<{ name: string; comment: string | null }>(
      `SELECT rolname::text AS name, shobj_description(oid, 'pg_authid') AS comment
         FROM pg_roles
        WHERE NOT rolcanlogin
          AND rolname::text !~ '^pg_'
          AND rolname::text <> $1
          AND rolname::text ~ $2
          AND coalesce(shobj_description(oid, 'pg_authid'), '') NOT LIKE $3
          AND ($4::text IS NULL OR rolname::text ILIKE $4)
          AND ($5::text IS NULL OR rolname::text COLLATE "C" > $5::text)
          AND NOT ${carriesHostAccess('oid', '$7')}
        ORDER BY rolname::text COLLATE "C"
        LIMIT $6`,
      [serviceUser, ENTITLEMENT_NAME_REGEX, `${JIT_MARKER}%`, search, q.cursor ?? null, limit + 1, HOST_ACCESS_ROLES],
    ),
  );
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      externalId: r.name,
      displayName: r.name,
      ...(r.comment ? { description: r.comment } : {}),
    })),
    nextCursor: rows.length > limit ? (page.at(-1)?.name ?? null) : null,
  };
}

/** Exact lookup with the same rules as the list: a group role Timebox may grant, named exactly so. */
export async function groupRoleExists(pool: pg.Pool, serviceUser: string, name: string): Promise<boolean> {
  const { rows } = await withClient(pool, (c) =>
    c.query(
      `SELECT 1 FROM pg_roles
        WHERE rolname::text = $1
          AND NOT rolcanlogin
          AND rolname::text !~ '^pg_'
          AND rolname::text <> $2
          AND rolname::text ~ $3
          AND coalesce(shobj_description(oid, 'pg_authid'), '') NOT LIKE $4
          AND NOT ${carriesHostAccess('oid', '$5')}`,
      [name, serviceUser, ENTITLEMENT_NAME_REGEX, `${JIT_MARKER}%`, HOST_ACCESS_ROLES],
    ),
  );
  return rows.length > 0;
}
