/**
 * Entitlements are the security groups under baseDn, named by DN. Search matches the group's
 * name (cn or sAMAccountName) literally, as a substring. Pages use a name keyset: the cursor is
 * the (name, DN) of the last group shown, so pages stay stable while groups come and go, and no
 * paged-results cookie (bound to one LDAP connection in AD) has to survive between calls.
 */
import { invalid } from '../../core/errors.js';
import type { ConnectorContext, EntitlementPage, ListEntitlementsQuery } from '../contract.js';
import type { ConnectionConfig } from './config.js';
import { dnProblem } from './dn.js';
import { escapeFilterValue } from './escape.js';
import { text, withSession } from './session.js';

const MAX_LIMIT = 500;
/** groupType bit of security groups: distribution groups grant no access. */
const SECURITY_ENABLED = 0x80000000;

type Key = [name: string, dn: string];
const keyOf = (name: string, dn: string): Key => [name.toLowerCase(), dn.toLowerCase()];
const compare = (a: Key, b: Key) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

const encodeCursor = (k: Key) => Buffer.from(JSON.stringify(k), 'utf8').toString('base64url');
function decodeCursor(cursor: string): Key {
  try {
    const k = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(k) && k.length === 2 && k.every((x) => typeof x === 'string')) return k as Key;
  } catch {
    // fall through
  }
  throw invalid('the page cursor is not one this connector issued');
}

export function groupFilter(search?: string): string {
  const base = `(&(objectClass=group)(groupType:1.2.840.113556.1.4.803:=${SECURITY_ENABLED}))`;
  const term = search?.trim();
  if (!term) return base;
  const v = escapeFilterValue(term);
  // A group's own DN (its externalId) finds it too: the core looks entitlements up that way.
  const byDn = dnProblem(term) === null ? `(distinguishedName=${v})` : '';
  return `(&(objectClass=group)(groupType:1.2.840.113556.1.4.803:=${SECURITY_ENABLED})(|(cn=*${v}*)(sAMAccountName=*${v}*)${byDn}))`;
}

export async function listGroups(config: ConnectionConfig, ctx: ConnectorContext, q: ListEntitlementsQuery): Promise<EntitlementPage> {
  const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(q.limit)));
  const after = q.cursor ? decodeCursor(q.cursor) : null;
  const entries = await withSession(config, ctx, (s) =>
    s.search(`listing groups under ${config.baseDn}`, config.baseDn, {
      filter: groupFilter(q.search),
      attributes: ['cn', 'description'],
      // Paged under the hood: AD returns at most 1,000 entries to a plain search.
      paged: true,
    }),
  );
  const groups = entries
    .map((e) => ({ dn: e.dn, name: text(e, 'cn') || e.dn, description: text(e, 'description'), key: keyOf(text(e, 'cn') || e.dn, e.dn) }))
    .filter((g) => !after || compare(g.key, after) > 0)
    .sort((a, b) => compare(a.key, b.key));
  const page = groups.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((g) => ({
      externalId: g.dn,
      displayName: g.name,
      description: g.description ? `${g.description} (${g.dn})` : g.dn,
    })),
    nextCursor: groups.length > limit && last ? encodeCursor(last.key) : null,
  };
}
