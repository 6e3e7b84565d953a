/**
 * First start: with no operators at all, create the `default` tenant and a platform admin who
 * owns it, with a generated password handed back exactly once for the server to print.
 */
import { sql, type Kysely } from 'kysely';
import type { AuditLog } from '../audit/types.js';
import type { Clock } from '../core/clock.js';
import { generatePassword } from '../secrets/password.js';
import type { Database } from '../store/schema.js';
import { createOperators, type Actor } from './operators.js';

export const BOOTSTRAP_EMAIL = 'admin@localhost';
export const DEFAULT_TENANT = { slug: 'default', name: 'Default' } as const;
/** Arbitrary fixed key ('tbboot' in ASCII); distinct from the audit log's. */
const BOOTSTRAP_LOCK_KEY = '127965907087220';

const system: Actor = { type: 'system', id: null };

export interface BootstrapCredentials {
  email: string;
  password: string;
}

/**
 * Returns the admin's credentials on the very first call against an empty database, null ever
 * after. Two processes starting at once serialise on an advisory lock and re-check inside it,
 * so exactly one of them creates (and prints) the admin.
 */
export async function bootstrapIfEmpty(db: Kysely<Database>, audit: AuditLog, clock: Clock): Promise<BootstrapCredentials | null> {
  if (await hasOperators(db)) return null; // the usual case: no lock, no hashing
  const operators = createOperators({ db, audit, clock });
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY}::bigint)`.execute(tx);
    if (await hasOperators(tx)) return null;
    const existing = await tx.selectFrom('tenants').select(['id']).where('slug', '=', DEFAULT_TENANT.slug).executeTakeFirst();
    const tenant = existing ?? (await operators.createTenant(DEFAULT_TENANT, system, tx));
    const password = generatePassword(24);
    const admin = await operators.create(
      // Printed on the console: nobody chose it, so it is changed at first sign-in.
      { email: BOOTSTRAP_EMAIL, displayName: 'Administrator', password, passwordChangeRequired: true, platformAdmin: true, auditTenantId: tenant.id },
      system,
      tx,
    );
    await operators.setMembership(tenant.id, admin.id, ['owner'], system, tx);
    return { email: admin.email, password };
  });
}

async function hasOperators(db: Kysely<Database>): Promise<boolean> {
  return (await db.selectFrom('operators').select('id').limit(1).executeTakeFirst()) !== undefined;
}
