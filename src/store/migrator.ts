/**
 * Applies migrations in order. A static list (not a folder scan) works the same under tsx,
 * vitest and compiled output, and a missing migration is a compile error. New migrations go at
 * the end with the next number: a database that ran later ones refuses an earlier newcomer.
 */
import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import * as m0001 from './migrations/0001_init.js';
import * as m0003 from './migrations/0003_approval_workflows.js';
import * as m0004 from './migrations/0004_notifications.js';
import * as m0005 from './migrations/0005_operator_mfa.js';
import * as m0006 from './migrations/0006_certificate_authorities.js';
import * as m0007 from './migrations/0007_tenant_jit_settings.js';
import * as m0008 from './migrations/0008_request_public_key.js';
import * as m0009 from './migrations/0009_agents.js';
import * as m0010 from './migrations/0010_jit_account_deletion.js';
import * as m0012 from './migrations/0012_policy_versions.js';
import * as m0013 from './migrations/0013_rate_limits.js';
import * as m0014 from './migrations/0014_mfa_recovery_codes.js';
import * as m0017 from './migrations/0017_one_pending_extension.js';
import * as m0018 from './migrations/0018_audit_sealing.js';
import * as m0019 from './migrations/0019_operator_identity.js';
import * as m0020 from './migrations/0020_sso.js';
import * as m0022 from './migrations/0022_siem_cursors.js';
import * as m0023 from './migrations/0023_gateway.js';
import * as m0024 from './migrations/0024_target_checks.js';
import * as m0025 from './migrations/0025_alert_kind.js';
import * as m0027 from './migrations/0027_unscanned_restart.js';
import * as m0028 from './migrations/0028_gateway_commands.js';
import * as m0029 from './migrations/0029_recording_retention.js';
import * as m0030 from './migrations/0030_account_names_ignore_case.js';
import * as m0031 from './migrations/0031_binding_confirmation.js';
import * as m0032 from './migrations/0032_sessions_ended_at.js';
import * as m0033 from './migrations/0033_grant_list_indexes.js';
import * as m0034 from './migrations/0034_unfinished_grants_index.js';
import * as m0035 from './migrations/0035_directory_object_id.js';
import * as m0036 from './migrations/0036_issued_key_binding.js';

const migrations: Record<string, Migration> = {
  '0001_init': m0001,
  '0003_approval_workflows': m0003,
  '0004_notifications': m0004,
  '0005_operator_mfa': m0005,
  '0006_certificate_authorities': m0006,
  '0007_tenant_jit_settings': m0007,
  '0008_request_public_key': m0008,
  '0009_agents': m0009,
  '0010_jit_account_deletion': m0010,
  '0012_policy_versions': m0012,
  '0013_rate_limits': m0013,
  '0014_mfa_recovery_codes': m0014,
  '0017_one_pending_extension': m0017,
  '0018_audit_sealing': m0018,
  '0019_operator_identity': m0019,
  '0020_sso': m0020,
  '0022_siem_cursors': m0022,
  '0023_gateway': m0023,
  '0024_target_checks': m0024,
  '0025_alert_kind': m0025,
  '0027_unscanned_restart': m0027,
  '0028_gateway_commands': m0028,
  '0029_recording_retention': m0029,
  '0030_account_names_ignore_case': m0030,
  '0031_binding_confirmation': m0031,
  '0032_sessions_ended_at': m0032,
  '0033_grant_list_indexes': m0033,
  '0034_unfinished_grants_index': m0034,
  '0035_directory_object_id': m0035,
  '0036_issued_key_binding': m0036,
};

export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  if (await upToDate(db)) return;
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error });
  }
}

/**
 * The usual start: every migration already ran. Two small reads answer that; the migrator's own
 * check (catalog introspection for its tables, a lock row, a lock, a transaction) takes several
 * round trips, which on the embedded store cost more than the rest of the start. Anything else (a
 * new database, a migration to apply, an unknown name) goes to the migrator, which applies what is
 * missing or refuses as before.
 */
async function upToDate(db: Kysely<any>): Promise<boolean> {
  const table = await sql<{ exists: boolean }>`SELECT to_regclass('kysely_migration') IS NOT NULL AS exists`.execute(db);
  if (!table.rows[0]?.exists) return false;
  const applied = (await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(db)).rows.map((r) => r.name).sort();
  const expected = Object.keys(migrations).sort();
  return applied.length === expected.length && applied.every((name, i) => name === expected[i]);
}
