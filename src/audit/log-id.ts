/** The id of this database's audit log (migration 0018): named in every checkpoint. */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

export async function readLogId(db: Kysely<Database>): Promise<string> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', 'audit.log_id').executeTakeFirst();
  if (typeof row?.value !== 'string') throw new Error('the audit log id is missing from settings (audit.log_id)');
  return row.value;
}
