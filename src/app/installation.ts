/**
 * The id of this Timebox installation: generated once, kept in the settings table, the same for
 * every replica and across restarts. Ownership markers on targets name it, so two installations
 * managing one cluster or domain never take over each other's accounts.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

const KEY = 'installation_id';
const known = new WeakMap<Kysely<Database>, Promise<string>>();

async function load(db: Kysely<Database>): Promise<string> {
  // Two replicas starting at once: the first insert wins, both read the same value back.
  await db
    .insertInto('settings')
    .values({ key: KEY, value: JSON.stringify(randomUUID()) })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.selectFrom('settings').select('value').where('key', '=', KEY).executeTakeFirstOrThrow();
  // jsonb comes back parsed: the id itself.
  const value: unknown = row.value;
  if (typeof value !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) {
    throw new Error(`settings.${KEY} holds ${JSON.stringify(value)}, not an installation id`);
  }
  return value;
}

export function installationId(db: Kysely<Database>): Promise<string> {
  let id = known.get(db);
  if (!id) {
    id = load(db);
    known.set(db, id);
    id.catch(() => known.delete(db));
  }
  return id;
}
